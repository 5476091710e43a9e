//! `vmlab generate SPEC -o FILE`: writes a generator's stream to a trace
//! file in vmlab's binary format (zstd-compressed when FILE ends in
//! `.zst`), so that a stream can be shared, replayed by `vmlab run
//! --trace`, or timed without the cost of generating it (`scripts/bench.sh`
//! does that). A file is written whole or not at all; `-` is standard
//! output ([`Output`]).

use crate::error::CliError;
use crate::output::Output;
use crate::progress::{Progress, REFERENCES_PER_REDRAW};
use clap::Args;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use vmlab_workload::gen::GenSpec;
use vmlab_workload::trace::bin::BinWriter;

const EXAMPLES: &str = "\
Examples:
  vmlab generate zipf:pages=1000000,alpha=1.0,n=50000000,seed=1 -o zipf.vmt
  vmlab generate matmul:dim=64,order=tiled,n=1000000 -o matmul.vmt.zst
  vmlab run --trace zipf.vmt --frames 100000 --policy clock";

/// zstd level for `.zst` output: the library's default balance of speed
/// and size (level 3).
const ZSTD_LEVEL: i32 = 3;

/// Arguments of `vmlab generate`.
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub struct GenerateArgs {
    /// The generator, e.g. `zipf:pages=1000000,alpha=1.0,n=50000000,seed=1`.
    #[arg(value_name = "SPEC")]
    spec: String,
    /// The trace file to write (vmlab-bin; zstd-compressed if it ends in
    /// `.zst`), or `-` for standard output.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
}

/// Runs `vmlab generate`.
pub fn run(args: &GenerateArgs) -> Result<(), CliError> {
    let spec: GenSpec = args.spec.parse().map_err(|e| CliError::arg("SPEC", e))?;
    let path = &args.output;
    let flag = |e: CliError| CliError::arg("--output", e);
    let mut out = Output::create(path).map_err(flag)?;
    let progress = Progress::on_terminal(Some(spec.references()), "references");
    let written = write_stream(&spec, &mut out, compresses(path), &progress);
    progress.finish();
    written.map_err(|e| flag(out.cannot(e)))?;
    out.finish().map_err(flag)
}

/// Writes every reference of `spec` to `out`, through zstd if `compress`.
fn write_stream(
    spec: &GenSpec,
    out: &mut Output,
    compress: bool,
    progress: &Progress,
) -> io::Result<()> {
    if compress {
        let encoder = zstd::Encoder::new(out, ZSTD_LEVEL)?;
        write_records(spec, encoder, progress)?.finish()?;
    } else {
        write_records(spec, out, progress)?;
    }
    Ok(())
}

/// The records of `spec` on `out`; returns `out` flushed.
fn write_records<W: Write>(spec: &GenSpec, out: W, progress: &Progress) -> io::Result<W> {
    // A generator makes accesses alone: a version 1 file says so.
    let mut writer = BinWriter::accesses_only(out)?;
    for (i, r) in spec.stream().enumerate() {
        writer.write(&r)?;
        if (i as u64 + 1) % REFERENCES_PER_REDRAW == 0 {
            progress.set(i as u64 + 1);
        }
    }
    writer.finish()
}

/// Whether `path` names a file this command compresses.
fn compresses(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "zst")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_zst_names_are_compressed() {
        assert!(compresses(Path::new("a.vmt.zst")));
        assert!(!compresses(Path::new("a.vmt")));
        assert!(!compresses(Path::new("zst")));
    }
}
