//! Plain-words narration of the hardware's steps (TLB probes, walk steps
//! with the decoded entry, accessed/dirty updates, fills), shared by
//! `vmlab translate` and `vmlab explain` so both tell a step the same way.

use std::fmt::Write as _;
use vmlab_hw::arch::pte::PteKind;
use vmlab_hw::events::InvalidateReason;
use vmlab_hw::pagetable::format_page_size;
use vmlab_hw::tlb::TlbConfig;
use vmlab_hw::{AccessKind, Arch, Event, Mode};

/// Names of the flag bits set in `raw`, in the manual's words.
pub fn flag_names(arch: &Arch, raw: u64) -> String {
    let names: Vec<&str> = arch
        .pte()
        .named_bits()
        .into_iter()
        .filter(|&(_, pos)| raw >> pos & 1 == 1)
        .map(|(name, _)| name)
        .collect();
    if names.is_empty() {
        "no flags".into()
    } else {
        names.join(" ")
    }
}

/// A page-table entry in hex, as wide as the format's entries.
pub fn hex_entry(arch: &Arch, raw: u64) -> String {
    format!(
        "{:#0width$x}",
        raw,
        width = usize::from(arch.pte().bytes) * 2 + 2
    )
}

/// "TLB l1d": the name of TLB level `level`.
pub fn tlb_name(tlb: &TlbConfig, level: usize) -> String {
    tlb.levels
        .get(level)
        .map_or("TLB".to_string(), |l| format!("TLB {}", l.name))
}

/// One hardware step of a `mode` `kind` access in words; `None` for the
/// steps the caller tells itself (the access, its outcome, segmentation).
pub fn hardware_step(
    arch: &Arch,
    tlb: &TlbConfig,
    mode: Mode,
    kind: AccessKind,
    event: &Event,
) -> Option<String> {
    let mut out = String::new();
    match event {
        Event::TlbProbe { level, hit, .. } => {
            let what = match hit {
                Some(e) => format!(
                    "hit: page {:#x} -> frame {:#x} ({}, {})",
                    e.vpn << e.page_shift,
                    e.frame_base,
                    format_page_size(e.page_shift),
                    e.perms
                ),
                None => "miss".into(),
            };
            let _ = write!(out, "{}: {what}", tlb_name(tlb, *level));
        }
        Event::TlbInvalidate { level, reason, .. } => {
            let why = match reason {
                InvalidateReason::Rights => format!("does not allow this {mode} {kind}"),
                InvalidateReason::Clean => {
                    "is clean, and a write must set the dirty flag in memory".into()
                }
            };
            let _ = write!(
                out,
                "{}: the cached entry {why}: dropped, walking the tables",
                tlb_name(tlb, *level)
            );
        }
        Event::WalkStep {
            level,
            index,
            pte_addr,
            raw,
            decoded,
        } => {
            let name = &arch.levels()[*level].name;
            let meaning = match decoded.kind {
                PteKind::Invalid => "not present".to_string(),
                PteKind::Table => format!("table at {:#x}", decoded.addr),
                PteKind::Leaf => format!(
                    "{} page at {:#x}, {}",
                    format_page_size(arch.level_shift(*level)),
                    decoded.addr & !((1u64 << arch.level_shift(*level)) - 1),
                    decoded.perms
                ),
            };
            let _ = write!(
                out,
                "walk {name}[{index:#x}] at {pte_addr:#x} = {}: {meaning} ({})",
                hex_entry(arch, *raw),
                flag_names(arch, *raw)
            );
        }
        Event::FlagUpdate {
            level, old, new, ..
        } => {
            let _ = write!(
                out,
                "set {} in the {} entry: {} -> {}",
                flag_names(arch, new & !old),
                arch.levels()[*level].name,
                hex_entry(arch, *old),
                hex_entry(arch, *new)
            );
        }
        Event::TlbFill { level, evicted, .. } => {
            let ev = match evicted {
                Some(e) => format!(", evicting page {:#x}", e.vpn << e.page_shift),
                None => String::new(),
            };
            let _ = write!(out, "{}: filled{ev}", tlb_name(tlb, *level));
        }
        _ => return None,
    }
    Some(out)
}
