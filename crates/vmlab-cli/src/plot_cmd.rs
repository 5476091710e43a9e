//! `vmlab plot`: re-plots a saved table: a sweep's CSV (the plot chosen
//! from what varies in it) or a time series whose first column is
//! `references`.

use crate::error::CliError;
use crate::plot;
use crate::table::{rows_from_csv, Csv};
use clap::Args;
use std::io::Read;
use std::path::{Path, PathBuf};
use vmlab_workload::sweep::COLUMNS;
use vmlab_workload::trace::STANDARD_INPUT;

const EXAMPLES: &str = "\
Examples:
  vmlab plot faults.csv                  writes faults.svg
  vmlab plot faults.csv -o faults.png
  vmlab plot rss.csv -o rss.svg          a time series: references,rss[,...]
  vmlab sweep --gen loop:pages=64,n=100000 --frames 16..128:16 --csv - | vmlab plot - -o loop.svg";

/// Arguments of `vmlab plot`.
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub struct PlotArgs {
    /// A CSV written by `vmlab sweep --csv`, or a time series (`references,VALUE...`);
    /// `-` reads standard input.
    #[arg(value_name = "RESULTS.csv")]
    input: PathBuf,
    /// The plot file, .svg or .png (default: the input with .svg; needed
    /// when the input is standard input).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Runs `vmlab plot`.
pub fn run(args: &PlotArgs) -> Result<(), CliError> {
    let from_stdin = args.input == Path::new(STANDARD_INPUT);
    let output = match &args.output {
        Some(output) => output.clone(),
        None if from_stdin => {
            return Err(CliError::arg(
                "--output",
                "expected the plot file to write (.svg or .png): the input is standard input",
            ))
        }
        None => args.input.with_extension("svg"),
    };
    let name = vmlab_workload::trace::trace_name(&args.input);
    let text = if from_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map(|_| text)
    } else {
        std::fs::read_to_string(&args.input)
    }
    .map_err(|e| CliError(format!("{name}: cannot read: {e}")))?;
    let csv = Csv::parse(&name, &text)?;
    let chart = if csv.header == COLUMNS {
        let rows = rows_from_csv(&csv)?;
        plot::sweep_plot(&rows).map_err(|e| CliError(format!("{name}: {e}")))?
    } else if csv.header.first().map(String::as_str) == Some("references") && csv.header.len() > 1 {
        plot::time_series_from_csv(&csv)?
    } else {
        return Err(CliError(format!(
            "{name}:1:1: expected the columns of a sweep ({}) or a time series (references,VALUE...)",
            COLUMNS.join(",")
        )));
    };
    plot::render(&chart, &output)?;
    eprintln!("vmlab plot: wrote {}", output.display());
    Ok(())
}
