//! `vmlab arch list` and `vmlab arch show`: the translation schemes as a
//! reader wants them, the address split with bit ranges and the entry
//! layout bit by bit. Also [`resolve_arch`], the `--arch`/`--arch-file`
//! choice every command shares.

use crate::error::CliError;
use crate::output::print_out;
use clap::Subcommand;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use vmlab_hw::arch::file::load_arch_file;
use vmlab_hw::arch::presets;
use vmlab_hw::arch::pte::low_mask;
use vmlab_hw::arch::Canonical;
use vmlab_hw::pagetable::format_page_size;
use vmlab_hw::Arch;

/// `vmlab arch ...`
#[derive(Subcommand)]
pub enum ArchCommand {
    /// List the built-in schemes.
    #[command(after_help = "Examples:\n  vmlab arch list\n  vmlab arch list | grep riscv")]
    List,
    /// Show a scheme's address split and entry layout.
    #[command(
        after_help = "Examples:\n  vmlab arch show x86-64\n  vmlab arch show riscv-sv39 --json\n  vmlab arch show linear:va=16,page=256,pa=16\n  vmlab arch show --file examples/arch/riscv-sv39.toml"
    )]
    Show {
        /// A preset name (see `vmlab arch list`) or `linear:va=BITS,page=BYTES,pa=BITS`.
        #[arg(required_unless_present = "file")]
        name: Option<String>,
        /// A scheme defined in a TOML file instead of a preset.
        #[arg(long, conflicts_with = "name")]
        file: Option<PathBuf>,
        /// Print the scheme as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The scheme named by `--arch NAME` or defined by `--arch-file PATH`.
pub fn resolve_arch(name: &str, file: Option<&Path>) -> Result<Arch, CliError> {
    if let Some(path) = file {
        return load_arch_file(path).map_err(|e| CliError(e.to_string()));
    }
    match presets::by_name(name) {
        Some(Ok(arch)) => Ok(arch),
        Some(Err(e)) => Err(CliError::arg("--arch", e)),
        None => Err(CliError::arg(
            "--arch",
            format!(
                "unknown scheme {name:?}; expected one of {} or linear:va=BITS,page=BYTES,pa=BITS",
                presets::NAMES.join(", ")
            ),
        )),
    }
}

/// Runs `vmlab arch ...`.
pub fn run(cmd: &ArchCommand) -> Result<(), CliError> {
    match cmd {
        ArchCommand::List => {
            let mut out = String::new();
            for name in presets::NAMES {
                if let Some(Ok(arch)) = presets::by_name(name) {
                    let _ = writeln!(out, "{name:<14} {}", arch.spec().description);
                }
            }
            out.push_str(
                "linear:va=BITS,page=BYTES,pa=BITS  a single-level linear table of any size\n",
            );
            print_out(&out)
        }
        ArchCommand::Show { name, file, json } => {
            let arch = resolve_arch(name.as_deref().unwrap_or(""), file.as_deref())?;
            if *json {
                let text = serde_json::to_string_pretty(arch.spec())
                    .map_err(|e| CliError(format!("cannot render JSON: {e}")))?;
                print_out(&format!("{text}\n"))
            } else {
                print_out(&describe(&arch))
            }
        }
    }
}

/// Bit range text such as `47..39` or `11..0`.
fn bits(hi: u32, lo: u32) -> String {
    if hi == lo {
        format!("{hi}")
    } else {
        format!("{hi}..{lo}")
    }
}

/// The human description of a scheme: split, page sizes, entry layout.
pub fn describe(arch: &Arch) -> String {
    let spec = arch.spec();
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", spec.name, spec.description);
    let canonical = match spec.canonical {
        Canonical::SignExtend if spec.va_bits < 64 => {
            format!(", bits 63..{} copy bit {}", spec.va_bits, spec.va_bits - 1)
        }
        Canonical::ZeroExtend if spec.va_bits < 64 => format!(", bits 63..{} zero", spec.va_bits),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "virtual addresses: {} bits{canonical}; physical: {} bits; {}-byte entries, {}-endian",
        spec.va_bits,
        spec.pa_bits,
        spec.pte.bytes,
        if spec.endian == vmlab_hw::Endian::Little {
            "little"
        } else {
            "big"
        }
    );
    if spec.asid_bits > 0 {
        let _ = writeln!(out, "address-space identifiers: {} bits", spec.asid_bits);
    }
    let _ = writeln!(
        out,
        "accessed/dirty flags: {}",
        match arch.ad_update() {
            vmlab_hw::arch::AdUpdate::Hardware => "set by the hardware walker",
            vmlab_hw::arch::AdUpdate::Fault => "a clear flag faults; software sets it",
        }
    );
    out.push_str("\naddress split:\n");
    for (i, level) in spec.levels.iter().enumerate() {
        let lo = u32::from(arch.level_shift(i));
        let hi = lo + u32::from(level.index_bits) - 1;
        let leaf = if level.leaf {
            format!(
                "  a leaf here maps {}",
                format_page_size(arch.level_shift(i))
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  bits {:<7} {} index ({} bits, {} entries){leaf}",
            bits(hi, lo),
            level.name,
            level.index_bits,
            1u64 << level.index_bits
        );
    }
    let _ = writeln!(
        out,
        "  bits {:<7} offset within a {} page",
        bits(u32::from(spec.page_shift) - 1, 0),
        format_page_size(spec.page_shift)
    );
    let _ = writeln!(
        out,
        "\nentry layout ({} bits):",
        u32::from(spec.pte.bytes) * 8
    );
    let mut fields: Vec<(u32, u32, String)> = spec
        .pte
        .named_bits()
        .into_iter()
        .map(|(name, pos)| (u32::from(pos), u32::from(pos), name.replace('_', " ")))
        .collect();
    let lo = u32::from(spec.pte.frame_lo);
    fields.push((
        lo + u32::from(spec.pte.frame_bits) - 1,
        lo,
        format!("frame number (physical address >> {})", spec.page_shift),
    ));
    fields.sort_by_key(|f| std::cmp::Reverse(f.0));
    for (hi, lo, name) in fields {
        let _ = writeln!(
            out,
            "  bit{} {:<7} {name}",
            if hi == lo { " " } else { "s" },
            bits(hi, lo)
        );
    }
    let entry_mask = low_mask(spec.pte.bytes * 8);
    let reserved: Vec<String> = spec
        .levels
        .iter()
        .filter(|l| (l.table_reserved | l.leaf_reserved) & entry_mask != 0)
        .map(|l| {
            format!(
                "  {}: tables {:#x}, leaves {:#x}",
                l.name, l.table_reserved, l.leaf_reserved
            )
        })
        .collect();
    if !reserved.is_empty() {
        out.push_str("\nreserved bits (must be zero, else a reserved-bit fault):\n");
        for line in reserved {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}
