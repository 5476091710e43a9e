//! Running a script: a Rhai engine with the bindings and limits, the
//! script's first process on a kernel the caller configured, and what is
//! left at the end ([`ScriptOutcome`]). Rhai's limits turn a runaway
//! script (an endless loop, endless recursion) into an error at a place
//! in the script instead of a hang.

use super::bindings::{self, Shared, MAX_STRING};
use super::errors::{self, ScriptError};
use super::experiments;
use super::session::{describe, ended_pid, Session};
use rhai::Engine;
use std::path::Path;
use std::sync::{Arc, Mutex};
use vmlab_kernel::cost::{CostModel, TimeSplit};
use vmlab_kernel::frames::Pid;
use vmlab_kernel::{ExitStatus, Kernel};
use vmlab_libc::account::Accounting;

/// The most elements a script's arrays and blobs may hold, nested ones
/// counted together: about 64 MiB of Rhai values. Without a bound,
/// `a = a + a` in a loop takes the host's memory and the process aborts.
const MAX_ARRAY: usize = 1 << 22;

/// The most entries a script's object maps may hold, nested ones counted
/// together.
const MAX_MAP: usize = 1 << 20;

/// How a script runs.
#[derive(Clone, Debug)]
pub struct ScriptOptions {
    /// Rhai operations (roughly, expressions evaluated) before the script
    /// is stopped as runaway; a native call such as `fill` counts as one.
    pub max_operations: u64,
    /// Accesses the bulk operations (`fill`, `copy`, `compare` and the C
    /// library's `memset`, `memcpy`, `memcmp`: one per page piece;
    /// `touch`: one per touch) may make in all.
    pub max_bulk_accesses: u64,
    /// How deep function calls (and `fork` bodies) may nest.
    pub max_call_levels: usize,
    /// Print to the real stdout as the script prints, not only to the
    /// transcript.
    pub echo: bool,
    /// What a failed `assert` or `assert_eq` does.
    pub assertions: Assertions,
}

/// What a failed assertion does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assertions {
    /// Stops the script with an error at the assertion: a scenario checks
    /// its key numbers on the machine it was written for.
    Stop,
    /// Counts it ([`ScriptOutcome::failed_assertions`]) and goes on: a
    /// sweep runs a scenario on machines it was not written for, where
    /// its numbers are the point and its checks may well not hold.
    Count,
}

impl Default for ScriptOptions {
    fn default() -> ScriptOptions {
        ScriptOptions {
            max_operations: 100_000_000,
            max_bulk_accesses: 1_000_000_000,
            max_call_levels: 64,
            echo: false,
            assertions: Assertions::Stop,
        }
    }
}

/// What a script run leaves.
pub struct ScriptOutcome {
    /// The machine, for its counters.
    pub kernel: Kernel,
    /// The C library's numbers: library calls and system calls by name,
    /// and the counts its cost model prices.
    pub accounting: Accounting,
    /// The run's time under the default cost model, split into user,
    /// kernel and disk time.
    pub time: TimeSplit,
    /// The script's first process.
    pub pid: Pid,
    /// How that process ended (`exit 0` when the script ran to its end).
    pub status: ExitStatus,
    /// Everything the processes printed, in order (what they wrote to
    /// the terminal otherwise is in the kernel's console).
    pub transcript: String,
    /// Assertions that failed and were counted ([`Assertions::Count`]).
    pub failed_assertions: u64,
    /// The first of them, at its place in the script.
    pub first_failed_assertion: Option<ScriptError>,
}

impl ScriptOutcome {
    /// How the first process ended, in words.
    pub fn status_text(&self) -> String {
        describe(self.status)
    }
}

/// Runs the script in `path` on `kernel`.
pub fn run_file(
    kernel: Kernel,
    path: &Path,
    options: &ScriptOptions,
) -> Result<ScriptOutcome, ScriptError> {
    let name = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|e| ScriptError::Unreadable {
        file: name.clone(),
        message: e.to_string(),
    })?;
    run_source(kernel, &name, &source, options)
}

/// Runs `source` (named `name` in errors) on `kernel`, as a process of
/// its own: the script's code is that process's program.
pub fn run_source(
    kernel: Kernel,
    name: &str,
    source: &str,
    options: &ScriptOptions,
) -> Result<ScriptOutcome, ScriptError> {
    run_source_keeping_machine(kernel, name, source, options).map_err(|(e, _)| e)
}

/// [`run_source`], which on an error in the running script also gives
/// back the machine as the error left it: an explanation's events up to
/// the error are in its log.
pub fn run_source_keeping_machine(
    kernel: Kernel,
    name: &str,
    source: &str,
    options: &ScriptOptions,
) -> Result<ScriptOutcome, (ScriptError, Option<Box<Kernel>>)> {
    let page_bytes = kernel.page_bytes();
    let arch = kernel.config().arch.clone();
    let (session, pid) = Session::new(kernel, options).map_err(|e| {
        let e = ScriptError::Machine(format!("cannot start the script's process: {e}"));
        (e, None)
    })?;
    let shared: Shared = Arc::new(Mutex::new(session));
    let mut engine = Engine::new();
    engine
        .set_max_operations(options.max_operations)
        .set_max_call_levels(options.max_call_levels)
        .set_max_string_size(MAX_STRING)
        .set_max_array_size(MAX_ARRAY)
        .set_max_map_size(MAX_MAP)
        .on_debug(|text, _, pos| eprintln!("debug at {pos}: {text}"));
    bindings::register(&mut engine, &shared, page_bytes);
    experiments::register(&mut engine, arch);
    let ast = engine
        .compile(source)
        .map_err(|e| (ScriptError::parse(name, &e), None))?;
    let result = engine.run_ast(&ast);
    // The bindings hold the other references to the session.
    drop(engine);
    let session = Arc::try_unwrap(shared)
        .ok()
        .and_then(|m| m.into_inner().ok())
        .ok_or_else(|| {
            (
                ScriptError::Machine("the machine's state was lost".into()),
                None,
            )
        })?;
    let mut session = session;
    match result {
        // The end of the script is the return from main: exit(0).
        Ok(()) => session.end_program(pid),
        Err(e) if ended_pid(&e) == Some(pid) => {}
        Err(e) => {
            let machine = Box::new(session.libc.into_kernel());
            return Err((ScriptError::runtime(name, &e), Some(machine)));
        }
    }
    // The shell collects the script's process: not the program's call.
    let status = match session.libc.kernel_mut().sys_wait(0, Some(pid)) {
        Ok(Some((_, status))) => status,
        _ => {
            let error = ScriptError::Machine("the script's process did not end".into());
            return Err((error, Some(Box::new(session.libc.into_kernel()))));
        }
    };
    let accounting = session.libc.accounting();
    let time = session.libc.time(&CostModel::default());
    let first_failed_assertion = session
        .failed_assertions
        .first
        .map(|(pos, message)| errors::at(name, pos, message));
    Ok(ScriptOutcome {
        pid,
        status,
        transcript: session.transcript,
        failed_assertions: session.failed_assertions.count,
        first_failed_assertion,
        accounting,
        time,
        kernel: session.libc.into_kernel(),
    })
}
