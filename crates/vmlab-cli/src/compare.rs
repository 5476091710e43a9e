//! `vmlab compare`: one allocation workload under segmentation (one
//! free-space allocator per configuration) and under paging (one page size
//! per configuration), printed side by side: fragmentation, failed
//! allocations, table memory, translation cost and compaction cost. The
//! time series of fragmentation goes to a CSV file (`--csv`) or the JSON
//! report (`--json`) for plotting.

use crate::arch_cmd::resolve_arch;
use crate::error::CliError;
use crate::numbers::parse_page_size;
use crate::output::{print_out, stdout_unless_json, write_whole};
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;
use vmlab_hw::pagetable::format_page_size;
use vmlab_hw::tlb::TlbConfig;
use vmlab_hw::{default_tlb, Arch};
use vmlab_workload::compare::{
    compare, parse_size, AllocSpec, CompareConfig, CompareError, CompareReport, PagingConfig,
};

const EXAMPLES: &str = "\
Examples:
  vmlab compare
  vmlab compare --workload allocs:n=20000,min=512,max=32K,live=400,dist=exp,seed=2 --mem 16M
  vmlab compare --allocators first,buddy --page-sizes 4K,2M --compact
  vmlab compare --arch riscv-sv39 --page-sizes 4K,2M --json
  vmlab compare --csv fragmentation.csv --every 50

Workload keys (allocs:...): n, min, max, live (required); dist=uniform|exp|bimodal,
mean (exp), big (bimodal fraction), refs (accesses after each event), seed.";

/// The workload `vmlab compare` runs when given none.
const DEFAULT_WORKLOAD: &str = "allocs:n=10000,min=1K,max=64K,live=200,seed=1";

/// Arguments of `vmlab compare`.
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub struct CompareArgs {
    /// The allocation workload.
    #[arg(long, value_name = "SPEC", default_value = DEFAULT_WORKLOAD)]
    workload: String,
    /// Physical memory for the objects (`8M`, `1G`, `65536`).
    #[arg(long, value_name = "SIZE", default_value = "8M")]
    mem: String,
    /// Free-space allocators for segmentation (first, best, worst, next, buddy);
    /// `none` for no segmentation.
    #[arg(
        long,
        value_name = "LIST",
        default_value = "first,best,worst,next,buddy"
    )]
    allocators: String,
    /// Page sizes for paging; `none` for no paging.
    #[arg(long, value_name = "LIST", default_value = "4K,64K,2M")]
    page_sizes: String,
    /// Translation schemes to take page sizes from, in order of preference
    /// (repeatable): each page size runs on the first scheme that has it.
    #[arg(long, value_name = "SCHEME", default_values = ["x86-64", "aarch64-64k"])]
    arch: Vec<String>,
    /// TLB geometry for paging (sizes default to the page size compared),
    /// e.g. `64:4,1536:12`; default: the scheme's own.
    #[arg(long, value_name = "SPEC")]
    tlb: Option<String>,
    /// Segment registers caching descriptors (x86 has 6; at least 1).
    #[arg(long, value_name = "N", default_value_t = 6,
          value_parser = clap::value_parser!(u64).range(1..))]
    segment_registers: u64,
    /// Compact the arena when a segment does not fit although enough bytes are free.
    #[arg(long)]
    compact: bool,
    /// Allocation and free events between time-series samples.
    #[arg(long, value_name = "N", default_value_t = 100)]
    every: u64,
    /// Print the whole report, time series included, as JSON.
    #[arg(long)]
    json: bool,
    /// Write the time series to this CSV file (`-` for standard output
    /// instead of the table).
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
}

/// Runs `vmlab compare`.
pub fn run(args: &CompareArgs) -> Result<(), CliError> {
    let series_to_stdout = stdout_unless_json("--csv", args.csv.as_deref(), args.json)?;
    let report = report(args)?;
    if let Some(path) = &args.csv {
        write_whole(path, series_csv(&report).as_bytes())
            .map_err(|e| CliError::arg("--csv", e.0))?;
    }
    if series_to_stdout {
        return Ok(());
    }
    let text = if args.json {
        let mut json = serde_json::to_string_pretty(&report)
            .map_err(|e| CliError(format!("cannot render JSON: {e}")))?;
        json.push('\n');
        json
    } else {
        let mut text = table(&report);
        if let Some(path) = &args.csv {
            let _ = writeln!(text, "time series written to {}", path.display());
        }
        text
    };
    print_out(&text)
}

/// The comparison `args` describe, run.
pub fn report(args: &CompareArgs) -> Result<CompareReport, CliError> {
    let spec: AllocSpec = args
        .workload
        .parse()
        .map_err(|e| CliError::arg("--workload", e))?;
    let config = config(args)?;
    compare(&spec, &config).map_err(|e| match e {
        CompareError::Allocator(m) => CliError::arg("--allocators", m),
        CompareError::PageSize(m) => CliError::arg("--page-sizes", m),
        CompareError::Memory(m) => CliError::arg("--mem", m),
        CompareError::Tlb(m) => CliError::arg("--tlb", m),
        CompareError::Machine(_) => CliError(e.to_string()),
    })
}

/// The comparison the flags describe.
fn config(args: &CompareArgs) -> Result<CompareConfig, CliError> {
    let mem = parse_size(&args.mem).filter(|&m| m > 0).ok_or_else(|| {
        CliError::arg(
            "--mem",
            format!(
                "expected a size of at least 1 byte such as 8M, found {:?}",
                args.mem
            ),
        )
    })?;
    let allocators: Vec<String> = args
        .allocators
        .split(',')
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty() && a != "none")
        .collect();
    // A repeated entry would run twice and print two identical rows.
    if let Some(twice) = allocators
        .iter()
        .enumerate()
        .find_map(|(i, a)| allocators[..i].contains(a).then_some(a))
    {
        return Err(CliError::arg(
            "--allocators",
            format!("{twice} is listed twice"),
        ));
    }
    let archs = args
        .arch
        .iter()
        .map(|name| resolve_arch(name, None))
        .collect::<Result<Vec<Arch>, CliError>>()?;
    let mut paging = Vec::new();
    for text in args.page_sizes.split(',').map(str::trim) {
        if text.is_empty() || text == "none" {
            continue;
        }
        let shift = parse_page_size(text).map_err(|e| CliError::arg("--page-sizes", e))?;
        if paging.iter().any(|p: &PagingConfig| p.page_shift == shift) {
            return Err(CliError::arg(
                "--page-sizes",
                format!("{} is listed twice", format_page_size(shift)),
            ));
        }
        let arch = archs
            .iter()
            .find(|a| a.level_for_page_shift(shift).is_some())
            .ok_or_else(|| {
                CliError::arg(
                    "--page-sizes",
                    format!(
                        "no scheme given by --arch ({}) has {} pages",
                        args.arch.join(", "),
                        format_page_size(shift)
                    ),
                )
            })?;
        let tlb = match &args.tlb {
            Some(spec) => {
                TlbConfig::parse_spec(spec, shift).map_err(|e| CliError::arg("--tlb", e))?
            }
            None => default_tlb(arch),
        };
        paging.push(PagingConfig {
            arch: arch.clone(),
            page_shift: shift,
            tlb,
        });
    }
    if allocators.is_empty() && paging.is_empty() {
        return Err(CliError::arg(
            "--allocators",
            "nothing to compare: no allocator and no page size",
        ));
    }
    if args.every == 0 {
        return Err(CliError::arg("--every", "expected at least 1 event"));
    }
    Ok(CompareConfig {
        mem,
        allocators,
        paging,
        compact: args.compact,
        // More registers than a usize counts are as many as there are objects.
        segment_registers: usize::try_from(args.segment_registers).unwrap_or(usize::MAX),
        sample_every: args.every,
    })
}

/// Bytes as the table shows them: `512 B`, `12.0 KiB`, `7.50 MiB`.
fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if bytes < 1 << 10 {
        format!("{bytes} B")
    } else if bytes < 1 << 20 {
        format!("{:.1} KiB", b / 1024.0)
    } else if bytes < 1 << 30 {
        format!("{:.2} MiB", b / (1 << 20) as f64)
    } else {
        format!("{:.2} GiB", b / (1 << 30) as f64)
    }
}

/// The side-by-side table: one row per configuration.
pub fn table(r: &CompareReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "vmlab compare: {}", r.workload);
    let _ = writeln!(
        out,
        "physical memory {} for objects; fragmentation means over samples every {} events\n",
        human(r.mem),
        r.sample_every
    );
    let header = [
        "scheme",
        "config",
        "failed",
        "free",
        "largest",
        "ext frag",
        "mean ext",
        "int frag",
        "tables",
        "peak tables",
        "refs/access",
        "misses",
        "compactions",
        "moved",
    ];
    let rows: Vec<[String; 14]> = r
        .configs
        .iter()
        .map(|c| {
            [
                c.scheme.to_owned(),
                c.config.clone(),
                format!("{}/{}", c.failed_allocations, c.allocations),
                human(c.last.free_bytes),
                human(c.last.largest_free),
                format!("{:.3}", c.last.external_fragmentation),
                format!("{:.3}", c.mean_external_fragmentation),
                format!("{:.3}", c.last.internal_fragmentation),
                human(c.last.table_bytes),
                human(c.peak_table_bytes),
                format!("{:.3}", c.references_per_access),
                c.translation_misses.to_string(),
                c.compactions.to_string(),
                human(c.bytes_moved),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|row| row[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut line = |cells: &[&str]| {
        let text: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, &w))| {
                if i < 2 {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        let _ = writeln!(out, "{}", text.join("  ").trim_end());
    };
    line(&header);
    for row in &rows {
        line(&row.iter().map(String::as_str).collect::<Vec<_>>());
    }
    out.push_str(
        "\nfailed: allocations refused of those tried; ext frag: 1 - largest free / total free \
         (paging: 0, any frame serves);\nint frag: bytes held beyond those asked for; tables: \
         segment descriptors (8 B each) or page tables;\nrefs/access: memory references per \
         access, translation included (accesses only to objects the configuration placed);\n\
         misses: descriptor loads or TLB misses; moved: bytes copied by compaction.\n",
    );
    out
}

/// The time series, one row per configuration and sample.
fn series_csv(r: &CompareReport) -> String {
    let mut out = String::from(
        "scheme,config,event,free_bytes,largest_free,external_fragmentation,live_bytes,\
         internal_bytes,internal_fragmentation,failed_allocations,table_bytes\n",
    );
    for c in &r.configs {
        let config = format!("\"{}\"", c.config.replace('"', "\"\""));
        for s in &c.series {
            let _ = writeln!(
                out,
                "{},{config},{},{},{},{},{},{},{},{},{}",
                c.scheme,
                s.event,
                s.free_bytes,
                s.largest_free,
                s.external_fragmentation,
                s.live_bytes,
                s.internal_bytes,
                s.internal_fragmentation,
                s.failed_allocations,
                s.table_bytes
            );
        }
    }
    out
}
