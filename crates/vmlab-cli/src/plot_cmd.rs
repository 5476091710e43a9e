//! `vmlab plot`: re-plots a saved table: a sweep's CSV (the plot chosen
//! from what varies in it) or a time series whose first column is
//! `references`.

use crate::error::CliError;
use crate::plot;
use crate::table::{rows_from_csv, Csv};
use clap::Args;
use std::path::PathBuf;
use vmlab_workload::sweep::COLUMNS;

const EXAMPLES: &str = "\
Examples:
  vmlab plot faults.csv                  writes faults.svg
  vmlab plot faults.csv -o faults.png
  vmlab plot rss.csv -o rss.svg          a time series: references,rss[,...]";

/// Arguments of `vmlab plot`.
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub struct PlotArgs {
    /// A CSV written by `vmlab sweep --csv`, or a time series (`references,VALUE...`).
    #[arg(value_name = "RESULTS.csv")]
    input: PathBuf,
    /// The plot file, .svg or .png (default: the input with .svg).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Runs `vmlab plot`.
pub fn run(args: &PlotArgs) -> Result<(), CliError> {
    let name = args.input.display().to_string();
    let text = std::fs::read_to_string(&args.input)
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
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| args.input.with_extension("svg"));
    plot::render(&chart, &output)?;
    eprintln!("vmlab plot: wrote {}", output.display());
    Ok(())
}
