//! `vmlab translate`: builds page tables in simulated physical memory from
//! the mappings given (`--map` or a TOML `--maps` file), then sends each
//! address through the MMU and narrates what the hardware did: the address
//! split, each TLB probe, each walk step with the entry decoded, flag
//! updates, TLB fills, and the physical address or the fault.

use crate::arch_cmd::resolve_arch;
use crate::error::CliError;
use crate::narrate::{hardware_step, tlb_name};
use crate::numbers::{parse_page_size, parse_u64};
use crate::output::print_out;
use clap::{Args, ValueEnum};
use serde::Deserialize;
use serde_json::json;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use vmlab_hw::arch::pte::LeafAttrs;
use vmlab_hw::arch::AdUpdate;
use vmlab_hw::pagetable::format_page_size;
use vmlab_hw::physmem::MAX_PHYS_BYTES;
use vmlab_hw::tlb::TlbConfig;
use vmlab_hw::{
    default_tlb, AccessKind, Arch, Context, Event, MapError, Mmu, MmuFaultKind, Mode, PageTable,
    Perms, PhysMem, TableAllocator,
};

const EXAMPLES: &str = "\
Mappings are VA=PA[:PERMS][:SIZE]: PERMS from r, w, x, plus s for a supervisor-only
page and g for a global one (default rw, user-accessible); SIZE one of the scheme's
page sizes (4K, 2M, 1G; default the smallest). Addresses are ADDR[:r|w|x].

Examples:
  vmlab translate
  vmlab translate --arch x86-64 --map 0x403000=0x12345000:rw 0x403abc 0x403010
  vmlab translate --arch x86-64 --map 0x403000=0x12345000:r 0x403abc:w
  vmlab translate --arch x86-64 --map 0x40000000=0x80000000:rw:2M 0x40012345
  vmlab translate --arch riscv-sv39 --map 0x40200000=0x80600000:rwx:2M 0x40200abc:x
  vmlab translate --arch aarch64-4k --map 0x400000=0x8000000:rw 0x400010 --json
  vmlab translate --arch riscv-sv39 --ad fault --map 0x1000=0x2000 0x1000
  vmlab translate --arch ostep --maps mappings.toml 0x611c";

/// Arguments of `vmlab translate`.
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub struct TranslateArgs {
    /// Translation scheme: a preset (`vmlab arch list`) or linear:va=BITS,page=BYTES,pa=BITS.
    #[arg(long, default_value = "x86-64")]
    arch: String,
    /// A scheme defined in a TOML file (overrides --arch).
    #[arg(long, value_name = "FILE")]
    arch_file: Option<PathBuf>,
    /// A mapping VA=PA[:PERMS][:SIZE]; repeat for more.
    #[arg(long = "map", value_name = "VA=PA[:PERMS][:SIZE]")]
    maps: Vec<String>,
    /// A TOML file of mappings: [[map]] tables with va, pa, and optional perms and size.
    #[arg(long = "maps", value_name = "FILE")]
    maps_file: Option<PathBuf>,
    /// TLB geometry, e.g. `l1d:64:4,l1i:64:4,l2:1536:12@4K+2M` or `none`.
    #[arg(long, value_name = "SPEC")]
    tlb: Option<String>,
    /// Privilege of the accesses.
    #[arg(long, value_enum, default_value_t = ModeArg::User)]
    mode: ModeArg,
    /// Address-space identifier (PCID/ASID) of the accesses.
    #[arg(long, default_value_t = 0)]
    asid: u16,
    /// Accessed/dirty flags: set by the hardware, or a fault for software to handle.
    #[arg(long, value_enum)]
    ad: Option<AdArg>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Addresses to translate, ADDR[:r|w|x] (read by default).
    #[arg(value_name = "ADDR[:KIND]")]
    addresses: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ModeArg {
    User,
    Supervisor,
}

#[derive(Clone, Copy, ValueEnum)]
enum AdArg {
    Hardware,
    Fault,
}

/// One mapping request, with where it came from for messages.
struct MapRequest {
    origin: String,
    vaddr: u64,
    frame: u64,
    page_shift: u8,
    attrs: LeafAttrs,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MapsFile {
    /// Each entry with where it starts in the file, for its errors.
    map: Vec<toml::Spanned<MapEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MapEntry {
    va: u64,
    pa: u64,
    #[serde(default)]
    perms: Option<String>,
    #[serde(default)]
    size: Option<String>,
}

/// Parses PERMS letters: r, w, x, s (supervisor only), g (global).
fn parse_perms(text: &str) -> Result<(Perms, bool), String> {
    let mut perms = Perms::USER;
    let mut global = false;
    for c in text.chars() {
        match c {
            'r' => perms |= Perms::READ,
            'w' => perms |= Perms::WRITE,
            'x' => perms |= Perms::EXEC_USER | Perms::EXEC_SUPER,
            's' => perms -= Perms::USER,
            'g' => global = true,
            '-' => {}
            other => {
                return Err(format!(
                    "unknown permission letter {other:?}; expected r, w, x, s (supervisor only) or g (global)"
                ))
            }
        }
    }
    Ok((perms, global))
}

fn map_request(
    arch: &Arch,
    origin: String,
    va: u64,
    pa: u64,
    perms: Option<&str>,
    size: Option<&str>,
) -> Result<MapRequest, CliError> {
    let (perms, global) =
        parse_perms(perms.unwrap_or("rw")).map_err(|e| CliError(format!("{origin}: {e}")))?;
    let page_shift = match size {
        Some(s) => parse_page_size(s).map_err(|e| CliError(format!("{origin}: {e}")))?,
        None => arch.page_shift(),
    };
    if arch.level_for_page_shift(page_shift).is_none() {
        let sizes: Vec<String> = arch
            .page_sizes()
            .iter()
            .map(|&(s, _)| format_page_size(s))
            .collect();
        return Err(CliError(format!(
            "{origin}: {} has no {} pages; its page sizes are {}",
            arch.name(),
            format_page_size(page_shift),
            sizes.join(", ")
        )));
    }
    Ok(MapRequest {
        origin,
        vaddr: va,
        frame: pa,
        page_shift,
        attrs: LeafAttrs {
            perms,
            global,
            accessed: false,
            dirty: false,
        },
    })
}

fn parse_map_arg(arch: &Arch, text: &str) -> Result<MapRequest, CliError> {
    let origin = format!("--map {text}");
    let (va, rest) = text
        .split_once('=')
        .ok_or_else(|| CliError(format!("{origin}: expected VA=PA[:PERMS][:SIZE]")))?;
    let mut parts = rest.split(':');
    let pa = parts.next().unwrap_or("");
    let va = parse_u64(va).map_err(|e| CliError(format!("{origin}: virtual address: {e}")))?;
    let pa = parse_u64(pa).map_err(|e| CliError(format!("{origin}: physical address: {e}")))?;
    let mut perms = None;
    let mut size = None;
    for part in parts {
        // A size starts with a digit; permissions are letters.
        if part.starts_with(|c: char| c.is_ascii_digit()) {
            size = Some(part);
        } else {
            perms = Some(part);
        }
    }
    map_request(arch, origin, va, pa, perms, size)
}

fn read_maps_file(arch: &Arch, path: &Path) -> Result<Vec<MapRequest>, CliError> {
    let name = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| CliError(format!("{name}: cannot read: {e}")))?;
    let place = |offset: usize| {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!("{name}:{line}:{column}")
    };
    let file: MapsFile = toml::from_str(&text).map_err(|e| {
        let at = e.span().map_or(name.clone(), |span| place(span.start));
        CliError(format!("{at}: {}", e.message()))
    })?;
    file.map
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let at = place(m.span().start);
            let m = m.into_inner();
            map_request(
                arch,
                format!("{at}: map[{i}]"),
                m.va,
                m.pa,
                m.perms.as_deref(),
                m.size.as_deref(),
            )
        })
        .collect()
}

/// Hands out table frames upwards from the second base page (frame 0 is
/// left free, as real kernels leave it), stepping around the frames the
/// mappings use so tables never overlap mapped data.
struct TableFrames {
    next: u64,
    end: u64,
    page: u64,
    avoid: Vec<(u64, u64)>,
    freed: Vec<(u64, u64)>,
}

impl TableAllocator for TableFrames {
    fn alloc_table(&mut self, bytes: u64) -> Option<u64> {
        if let Some(i) = self.freed.iter().position(|&(_, b)| b == bytes) {
            return Some(self.freed.swap_remove(i).0);
        }
        let mut start = self.next.next_multiple_of(self.page);
        while let Some(&(_, hi)) = self
            .avoid
            .iter()
            .find(|&&(lo, hi)| start < hi && lo < start.saturating_add(bytes))
        {
            start = hi.next_multiple_of(self.page);
        }
        let end = start.checked_add(bytes).filter(|&e| e <= self.end)?;
        self.next = end;
        Some(start)
    }

    fn free_table(&mut self, addr: u64, bytes: u64) {
        self.freed.push((addr, bytes));
    }
}

fn parse_address(arch: &Arch, text: &str) -> Result<(u64, AccessKind), CliError> {
    let (addr, kind) = match text.rsplit_once(':') {
        Some((a, k)) => (a, k),
        None => (text, "r"),
    };
    let kind = match kind {
        "r" | "read" => AccessKind::Read,
        "w" | "write" => AccessKind::Write,
        "x" | "fetch" => AccessKind::Fetch,
        other => {
            return Err(CliError(format!(
                "address {text}: unknown access kind {other:?}; expected r, w or x"
            )))
        }
    };
    let vaddr = parse_u64(addr).map_err(|e| CliError(format!("address {text}: {e}")))?;
    if !arch.is_canonical(vaddr) {
        return Err(CliError(format!(
            "address {text}: {vaddr:#x} is wider than {}'s {}-bit virtual address space (not canonical)",
            arch.name(),
            arch.va_bits()
        )));
    }
    Ok((vaddr, kind))
}

/// The example run with no mappings and no addresses: one base page mapped
/// read-write, two reads in it (the second hits the TLB), a write, and an
/// access to an unmapped page.
fn demo(arch: &Arch) -> (Vec<MapRequest>, Vec<String>) {
    let page = arch.page_bytes();
    let (va, pa) = if arch.va_bits() >= 32 && arch.pa_bits() >= 32 {
        (0x400000 + 3 * page, 0x12345000 & !(page - 1))
    } else {
        (3 * page, 5 * page)
    };
    let off = |o: u64| o & (page - 1);
    let request = MapRequest {
        origin: "the built-in example".into(),
        vaddr: va,
        frame: pa,
        page_shift: arch.page_shift(),
        attrs: LeafAttrs::new(Perms::READ | Perms::WRITE | Perms::USER),
    };
    let addresses = vec![
        format!("{:#x}", va + off(0xabc)),
        format!("{:#x}", va + off(0x10)),
        format!("{:#x}:w", va + off(0x10)),
        format!("{:#x}", va + page),
    ];
    (vec![request], addresses)
}

/// Runs `vmlab translate`.
pub fn run(args: &TranslateArgs) -> Result<(), CliError> {
    let mut arch = resolve_arch(&args.arch, args.arch_file.as_deref())?;
    if let Some(ad) = args.ad {
        arch = arch.with_ad_update(match ad {
            AdArg::Hardware => AdUpdate::Hardware,
            AdArg::Fault => AdUpdate::Fault,
        });
    }
    let mut requests = Vec::new();
    for m in &args.maps {
        requests.push(parse_map_arg(&arch, m)?);
    }
    if let Some(path) = &args.maps_file {
        requests.extend(read_maps_file(&arch, path)?);
    }
    let mut addresses = args.addresses.clone();
    if requests.is_empty() && addresses.is_empty() {
        (requests, addresses) = demo(&arch);
    }
    let accesses = addresses
        .iter()
        .map(|a| parse_address(&arch, a))
        .collect::<Result<Vec<_>, _>>()?;
    if args.asid != 0 && u32::from(args.asid) >> arch.asid_bits() != 0 {
        return Err(CliError::arg(
            "--asid",
            format!(
                "{} does not fit {}'s {}-bit address-space identifiers",
                args.asid,
                arch.name(),
                arch.asid_bits()
            ),
        ));
    }
    let tlb = match &args.tlb {
        Some(spec) => {
            TlbConfig::parse_spec(spec, arch.page_shift()).map_err(|e| CliError::arg("--tlb", e))?
        }
        None => default_tlb(&arch),
    };

    let phys_size = if arch.pa_bits() >= 52 {
        MAX_PHYS_BYTES
    } else {
        1u64 << arch.pa_bits()
    };
    let mut mem = PhysMem::new(phys_size, arch.endian())
        .map_err(|e| CliError(format!("physical memory: {e}")))?;
    let mut tables = TableFrames {
        next: arch.page_bytes(),
        end: phys_size,
        page: arch.page_bytes(),
        avoid: requests
            .iter()
            .map(|r| (r.frame, r.frame.saturating_add(1 << r.page_shift)))
            .collect(),
        freed: Vec::new(),
    };
    let mut pt = PageTable::new(&arch, &mut mem, &mut tables)
        .map_err(|e| CliError(format!("building the root table: {e}")))?;
    for r in &requests {
        if r.frame.saturating_add(1 << r.page_shift) > phys_size {
            return Err(CliError(format!(
                "{}: frame {:#x} is beyond {}'s {}-bit physical address space",
                r.origin,
                r.frame,
                arch.name(),
                arch.pa_bits()
            )));
        }
        let replaced = pt
            .map(
                &arch,
                &mut mem,
                &mut tables,
                r.vaddr,
                r.frame,
                r.page_shift,
                r.attrs,
            )
            .map_err(|e| map_error(&r.origin, e))?;
        if replaced.replaced.is_some() {
            return Err(CliError(format!(
                "{}: page {:#x} is mapped twice",
                r.origin, r.vaddr
            )));
        }
    }

    let mut mmu = Mmu::new(arch.clone(), &tlb).map_err(|e| CliError::arg("--tlb", e))?;
    let mode = match args.mode {
        ModeArg::User => Mode::User,
        ModeArg::Supervisor => Mode::Supervisor,
    };
    let ctx = Context {
        root: pt.root(),
        asid: args.asid,
    };
    let mut text = String::new();
    let mut json_accesses = Vec::new();
    if !args.json {
        let _ = writeln!(text, "{}: {}", arch.name(), arch.spec().description);
        for r in &requests {
            // The rights as the entry holds them: a format without an
            // execute-disable bit, say, grants execute whatever was asked.
            let perms = pt
                .query(&arch, &mem, r.vaddr)
                .ok()
                .flatten()
                .map_or(r.attrs.perms, |m| m.perms);
            let _ = writeln!(
                text,
                "map {:#x} -> {:#x} ({} page, {perms}{})",
                r.vaddr,
                r.frame,
                format_page_size(r.page_shift),
                if r.attrs.global { ", global" } else { "" }
            );
        }
        let _ = writeln!(
            text,
            "page tables: {} table(s), {} bytes, root at {:#x}",
            pt.tables(),
            pt.table_bytes(),
            pt.root()
        );
    }
    for (vaddr, kind) in accesses {
        let mut events: Vec<Event> = Vec::new();
        let outcome = mmu.access(&mut mem, ctx, vaddr, kind, mode, &mut events);
        if args.json {
            json_accesses.push(json!({
                "vaddr": vaddr,
                "kind": kind,
                "mode": mode,
                "asid": args.asid,
                "split": split_json(&arch, vaddr),
                "events": events,
                "result": match &outcome {
                    Ok(a) => json!({"paddr": a.paddr, "page_shift": a.page_shift, "tlb_level": a.tlb_level, "cost": a.cost}),
                    Err(f) => json!({"fault": f.to_string(), "page_fault": match &f.kind {
                        MmuFaultKind::Page(p) => json!(p),
                        MmuFaultKind::Segment(_) => json!(null),
                    }, "cost": f.cost}),
                },
            }));
        } else {
            narrate(&mut text, &arch, &mmu, vaddr, kind, mode, &events, &outcome);
        }
    }
    if args.json {
        let doc = json!({
            "arch": arch.name(),
            "mappings": requests.iter().map(|r| json!({
                "vaddr": r.vaddr, "frame": r.frame, "page_shift": r.page_shift,
                "perms": r.attrs.perms, "global": r.attrs.global,
            })).collect::<Vec<_>>(),
            "page_tables": {"root": pt.root(), "tables": pt.tables(), "bytes": pt.table_bytes()},
            "accesses": json_accesses,
            "tlb": mmu.tlb().config().levels.iter().zip(mmu.tlb().counters()).map(|(l, c)| json!({"name": l.name, "counters": c})).collect::<Vec<_>>(),
            "mmu": mmu.counters(),
        });
        let out = serde_json::to_string_pretty(&doc)
            .map_err(|e| CliError(format!("cannot render JSON: {e}")))?;
        print_out(&format!("{out}\n"))
    } else {
        print_out(&text)
    }
}

fn map_error(origin: &str, e: MapError) -> CliError {
    CliError(format!("{origin}: {e}"))
}

fn split_json(arch: &Arch, vaddr: u64) -> serde_json::Value {
    let mut parts: Vec<serde_json::Value> = arch
        .levels()
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let lo = arch.level_shift(i);
            json!({"field": l.name, "hi": lo + l.index_bits - 1, "lo": lo, "value": arch.index(vaddr, i)})
        })
        .collect();
    parts.push(json!({"field": "offset", "hi": arch.page_shift() - 1, "lo": 0, "value": vaddr & (arch.page_bytes() - 1)}));
    serde_json::Value::Array(parts)
}

#[allow(clippy::too_many_arguments)]
fn narrate(
    out: &mut String,
    arch: &Arch,
    mmu: &Mmu,
    vaddr: u64,
    kind: AccessKind,
    mode: Mode,
    events: &[Event],
    outcome: &Result<vmlab_hw::Access, vmlab_hw::MmuFault>,
) {
    let _ = writeln!(out, "\n{vaddr:#x}: {mode} {kind}");
    let mut split = Vec::new();
    for (i, l) in arch.levels().iter().enumerate() {
        split.push(format!("{} {:#x}", l.name, arch.index(vaddr, i)));
    }
    split.push(format!("offset {:#x}", vaddr & (arch.page_bytes() - 1)));
    let _ = writeln!(out, "  split: {}", split.join(" | "));
    let tlb = mmu.tlb().config();
    for event in events {
        if let Some(line) = hardware_step(arch, tlb, mode, kind, event) {
            let _ = writeln!(out, "  {line}");
        }
    }
    match outcome {
        Ok(a) => {
            let via = match a.tlb_level {
                Some(l) => format!("{} hit, no walk", tlb_name(tlb, l)),
                None => format!("{} table read(s)", a.cost.walk_reads),
            };
            let _ = writeln!(
                out,
                "  => physical {:#x} ({} page; {via})",
                a.paddr,
                format_page_size(a.page_shift)
            );
        }
        Err(f) => match &f.kind {
            MmuFaultKind::Page(p) => {
                let _ = writeln!(
                    out,
                    "  => page fault at {} (level {}): {} [{} {}]",
                    arch.levels()[p.level].name,
                    p.level,
                    p.cause.describe(),
                    p.mode,
                    p.kind
                );
            }
            MmuFaultKind::Segment(s) => {
                let _ = writeln!(out, "  => segmentation fault: {s}");
            }
        },
    }
}
