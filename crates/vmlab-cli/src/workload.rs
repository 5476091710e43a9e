//! The workload flags every driving command shares (`--gen` or `--trace`,
//! `--format`, `--skip-bad-lines`) and the [`Source`] they describe; the
//! `--model` values. The machine flags are in [`crate::machine`].

use crate::error::CliError;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use vmlab_workload::driver::Model;
use vmlab_workload::gen::GenSpec;
use vmlab_workload::sweep::Source;
use vmlab_workload::trace::TraceFormat;

/// Where the references come from.
#[derive(Args)]
pub struct WorkloadArgs {
    /// A synthetic workload, e.g. `zipf:pages=1000000,alpha=1.0,n=50000000,seed=1`.
    #[arg(long, value_name = "SPEC", conflicts_with = "trace")]
    gen: Option<String>,
    /// A trace file (lackey text, address list, vmlab-bin, oracleGeneral; gzip or zstd); `-` reads standard input.
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
            (None, Some(path)) => vmlab_workload::trace::trace_name(path),
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
