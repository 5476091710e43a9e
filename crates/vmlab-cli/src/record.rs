//! `vmlab record -- CMD ARGS...`: runs a real program under Valgrind's
//! lackey tool (`--trace-mem=yes --trace-syscalls=yes`), and converts its
//! log into a zstd-compressed vmlab-bin trace that keeps the program's
//! brk/mmap/munmap/mprotect/mremap calls in order with its accesses, so
//! `vmlab run --trace` replays the regions the program had.
//!
//! Valgrind writes its log to a temporary directory; the trace is an
//! [`Output`] (a file written whole, or `-`, standard output, with the
//! report on standard error instead). A log that cannot be read is kept,
//! and the error names its line and column.

use crate::error::CliError;
use crate::output::{cannot_write, is_stdout, print_out, Output};
use clap::Args;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use vmlab_workload::replay::ReplayReport;
use vmlab_workload::syscall::CALL_NAMES;
use vmlab_workload::trace::convert::{to_vmlab_bin_zst, ConvertError, Converted};
use vmlab_workload::trace::{self, ReadOptions, TraceFormat};

const EXAMPLES: &str = "\
Examples:
  vmlab record -- ls -l /                  writes ls.vmtrace.zst
  vmlab record -o sort.vmtrace.zst -- sort big.txt
  vmlab run --trace ls.vmtrace.zst --frames 64 --policy clock";

/// Arguments of `vmlab record`.
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub struct RecordArgs {
    /// Where to write the trace, `-` for standard output (default:
    /// CMD.vmtrace.zst here, CMD's file name without its directory).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The Valgrind program to run.
    #[arg(long, value_name = "PATH", default_value = "valgrind")]
    valgrind: PathBuf,
    /// The program to record and its arguments (after `--`).
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<OsString>,
}

/// Runs `vmlab record`.
pub fn run(args: &RecordArgs) -> Result<(), CliError> {
    let Some(program) = args.command.first() else {
        return Err(CliError::arg(
            "CMD",
            "expected a program to record after --",
        ));
    };
    let output = match &args.output {
        Some(path) => path.clone(),
        None => {
            let name = Path::new(program)
                .file_name()
                .map_or_else(|| "trace".into(), |n| n.to_string_lossy().into_owned());
            PathBuf::from(format!("{name}.vmtrace.zst"))
        }
    };
    let dir = std::env::temp_dir().join(format!("vmlab-record-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError(format!("{}: cannot create: {e}", dir.display())))?;
    let log = dir.join("lackey.log");
    let result = record(args, &log, &output);
    // The log is kept only when it is what went wrong.
    if !matches!(result, Err(Failure::BadLog(_))) {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let (status, counts) = result.map_err(|f| match f {
        Failure::Cli(e) | Failure::BadLog(e) => e,
    })?;
    let report = summary(&args.command, status, &counts, &output);
    if is_stdout(&output) {
        eprint!("{report}");
        Ok(())
    } else {
        print_out(&report)
    }
}

enum Failure {
    Cli(CliError),
    /// Valgrind's log could not be converted (it is kept for a look).
    BadLog(CliError),
}

fn record(
    args: &RecordArgs,
    log: &Path,
    output: &Path,
) -> Result<(ExitStatus, Converted), Failure> {
    let mut log_flag = OsString::from("--log-file=");
    log_flag.push(log);
    let status = Command::new(&args.valgrind)
        .args(["--tool=lackey", "--trace-mem=yes", "--trace-syscalls=yes"])
        .arg(log_flag)
        .args(&args.command)
        .status()
        .map_err(|e| {
            Failure::Cli(if e.kind() == std::io::ErrorKind::NotFound {
                CliError::arg(
                    "--valgrind",
                    format!(
                        "{} not found; vmlab record needs Valgrind: apt-get install valgrind",
                        args.valgrind.display()
                    ),
                )
            } else {
                CliError::arg(
                    "--valgrind",
                    format!("cannot run {}: {e}", args.valgrind.display()),
                )
            })
        })?;
    if !log.exists() {
        return Err(Failure::Cli(CliError(format!(
            "valgrind stopped ({status}) before running {} (see its message above)",
            args.command[0].to_string_lossy()
        ))));
    }
    let opts = ReadOptions::default();
    let mut reader = trace::open(log, Some(TraceFormat::Lackey), opts)
        .map_err(|e| Failure::BadLog(CliError(e.to_string())))?;
    let flag = |e: CliError| Failure::Cli(CliError::arg("--output", e));
    let out = Output::create(output).map_err(flag)?;
    let (counts, out) = match to_vmlab_bin_zst(&mut reader, out) {
        Ok(converted) => converted,
        Err(ConvertError::Read(e)) => {
            return Err(Failure::BadLog(CliError(format!(
                "{e} (Valgrind's log, kept for a look)"
            ))))
        }
        Err(ConvertError::Write(e)) => return Err(flag(cannot_write(output, e))),
    };
    out.finish().map_err(flag)?;
    Ok((status, counts))
}

/// The report: what ran, how it ended, what the trace holds.
fn summary(command: &[OsString], status: ExitStatus, c: &Converted, output: &Path) -> String {
    let cmd: Vec<_> = command.iter().map(|a| a.to_string_lossy()).collect();
    let mut out = String::new();
    let _ = writeln!(out, "vmlab record: {}", cmd.join(" "));
    let ended = match status.code() {
        Some(code) => format!("exit status {code}"),
        None => format!("{status}"),
    };
    let _ = writeln!(out, "program         {ended}");
    let _ = writeln!(out, "accesses        {}", c.accesses);
    let calls: Vec<String> = CALL_NAMES
        .iter()
        .zip(c.syscalls)
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "system calls    {} kept ({})",
        c.total_syscalls(),
        calls.join(", ")
    );
    let bytes = std::fs::metadata(output).map_or(0, |m| m.len());
    let _ = writeln!(
        out,
        "trace           {} ({bytes} bytes, vmlab-bin, zstd)",
        output.display()
    );
    let _ = writeln!(
        out,
        "replay with     vmlab run --trace {}",
        output.display()
    );
    out
}

/// The replay's lines of `vmlab run`'s report, for a trace with system
/// calls: the calls replayed, and every departure from the recording.
pub fn write_replay(out: &mut String, r: &ReplayReport) {
    let _ = writeln!(
        out,
        "system calls    {} replayed (brk {}, mmap {}, munmap {}, mprotect {}, mremap {}; {} had failed when recorded)",
        r.syscalls, r.brk, r.mmap, r.munmap, r.mprotect, r.mremap, r.failed_in_recording
    );
    if r.differing > 0 {
        let _ = writeln!(
            out,
            "differing calls {} (the simulated kernel answered otherwise than the recording)",
            r.differing
        );
    }
    let _ = writeln!(
        out,
        "fault kinds     {} minor (demand-zero heap and anonymous pages), {} major (backed pages read in)",
        r.minor_faults, r.major_faults
    );
    let _ = writeln!(
        out,
        "loader pages    {} (outside every recorded mapping; backed, as in trace mode)",
        r.loader_pages
    );
    if let Some(first) = r.first_refused {
        let _ = writeln!(
            out,
            "refused         {} accesses the regions do not allow (SIGSEGV; skipped), first at {first:#x}",
            r.refused_accesses
        );
    }
}
