//! Experiments a script runs on machines of their own, beside the one its
//! processes run on, for the scenarios that compare machines rather than
//! programs:
//! - `run_reference_string(#{policy: "fifo", frames: 3}, [1, 2, 3, ...])`
//!   presents a page-reference string to a fresh replacement model
//!   (vmlab-kernel's [`ReplacementSim`] with the named policy, the model
//!   behind `vmlab run --model replacement`; OPT gets the string's future)
//!   and returns its counts and which references faulted;
//! - `compare_schemes("allocs:...", #{...})` runs an allocation workload
//!   under segmentation and paging with [`crate::compare`] (the engine of
//!   `vmlab compare`) and returns one map per configuration.
//!
//! Bad options are script errors naming the function and the option.

use crate::compare::{compare, parse_size, AllocSpec, CompareConfig, PagingConfig};
use rhai::{Array, Dynamic, Engine, EvalAltResult, Map, INT};
use vmlab_hw::{default_tlb, Arch};
use vmlab_kernel::policy::sim::{next_uses, ReplacementSim};
use vmlab_kernel::policy::spec::from_spec;
use vmlab_kernel::policy::PolicyParams;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// The allocators `compare_schemes` tries when not told.
const ALLOCATORS: [&str; 5] = ["first", "best", "worst", "next", "buddy"];

/// Registers the experiments; paging comparisons use `arch`, the
/// machine's own scheme.
pub(crate) fn register(engine: &mut Engine, arch: Arch) {
    engine.register_fn("run_reference_string", run_reference_string);
    engine.register_fn(
        "compare_schemes",
        move |workload: &str, options: Map| -> Result<Array> {
            compare_schemes(&arch, workload, &options)
        },
    );
}

fn bad(what: &str, key: &str, expected: &str, found: &Dynamic) -> Box<EvalAltResult> {
    format!("{what}: {key}: expected {expected}, found {found:?}").into()
}

/// An integer option of at least `min`.
fn int_option(what: &str, options: &Map, key: &str, default: Option<INT>, min: INT) -> Result<INT> {
    match (options.get(key), default) {
        (Some(v), _) => v
            .as_int()
            .ok()
            .filter(|&n| n >= min)
            .ok_or_else(|| bad(what, key, &format!("an integer of at least {min}"), v)),
        (None, Some(d)) => Ok(d),
        (None, None) => Err(format!("{what}: the option {key} is required").into()),
    }
}

/// `run_reference_string(#{policy, frames}, pages)`: `pages` (page
/// numbers, non-negative) on `frames` frames under `policy` (default
/// `lru`), from empty memory. Returns `#{policy, frames, references,
/// faults, hits, evictions, faulted, resident}`: `faulted` says for each
/// reference whether it faulted, `resident` the pages left in memory in
/// frame order.
fn run_reference_string(options: Map, pages: Array) -> Result<Map> {
    const WHAT: &str = "run_reference_string";
    let frames = int_option(WHAT, &options, "frames", None, 1)?;
    let frames = usize::try_from(frames).map_err(|_| format!("{WHAT}: frames: too many"))?;
    let policy = match options.get("policy") {
        Some(p) => p
            .clone()
            .into_string()
            .map_err(|_| bad(WHAT, "policy", "a policy's name", p))?,
        None => "lru".to_string(),
    };
    let mut refs = Vec::with_capacity(pages.len());
    for (i, page) in pages.iter().enumerate() {
        let n = page
            .as_int()
            .ok()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| bad(WHAT, &format!("reference {i}"), "a page number", page))?;
        refs.push(n);
    }
    // OPT reads the future; the other policies ignore it.
    let params = PolicyParams {
        next_use: Some(next_uses(&refs).into()),
        ..PolicyParams::default()
    };
    let (chosen, params) =
        from_spec(&policy, frames, &params).map_err(|e| format!("{WHAT}: policy: {e}"))?;
    let mut sim = ReplacementSim::new(chosen, frames, params.tick_interval);
    let faulted: Array = refs
        .iter()
        .map(|&page| Dynamic::from(!sim.access(page, false)))
        .collect();
    let stats = sim.stats();
    let mut out = Map::new();
    out.insert("policy".into(), policy.into());
    out.insert("frames".into(), (frames as INT).into());
    out.insert("references".into(), (stats.references as INT).into());
    out.insert("faults".into(), (stats.faults as INT).into());
    out.insert("hits".into(), (stats.hits as INT).into());
    out.insert("evictions".into(), (stats.evictions as INT).into());
    out.insert("faulted".into(), faulted.into());
    let resident: Array = sim
        .resident()
        .into_iter()
        .map(|p| (p as INT).into())
        .collect();
    out.insert("resident".into(), resident.into());
    Ok(out)
}

/// A list option of strings.
fn names(what: &str, options: &Map, key: &str) -> Result<Option<Vec<String>>> {
    let Some(v) = options.get(key) else {
        return Ok(None);
    };
    let expected = "an array of names";
    let array = v
        .clone()
        .into_array()
        .map_err(|_| bad(what, key, expected, v))?;
    array
        .into_iter()
        .map(|item| {
            item.clone()
                .into_string()
                .map_err(|_| bad(what, key, expected, &item))
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// A size option: an integer of bytes, or a string such as `"8M"`.
fn size_option(what: &str, options: &Map, key: &str, default: u64) -> Result<u64> {
    let Some(v) = options.get(key) else {
        return Ok(default);
    };
    let size = if let Ok(n) = v.as_int() {
        u64::try_from(n).ok()
    } else {
        v.clone().into_string().ok().and_then(|s| parse_size(&s))
    };
    size.filter(|&n| n > 0)
        .ok_or_else(|| bad(what, key, "a size of at least 1 byte (4096 or \"8M\")", v))
}

/// The most steps (allocation events and their accesses, over every
/// configuration) one `compare_schemes` call runs: seconds of work.
const MAX_COMPARE_WORK: u64 = 100_000_000;

/// `compare_schemes(workload, #{mem, allocators, page_sizes, compact,
/// segment_registers, sample_every})`: the allocation workload (an
/// `allocs:` spec, as `vmlab compare --workload` takes) under segmentation
/// with each allocator (default all five) and paging with each page size
/// (bytes; default the machine's base page) on the machine's scheme, with
/// `mem` bytes for objects (default 8 MiB). One map per configuration,
/// segmentation first, with the fields of `vmlab compare --json` but the
/// time series.
fn compare_schemes(arch: &Arch, workload: &str, options: &Map) -> Result<Array> {
    const WHAT: &str = "compare_schemes";
    let spec: AllocSpec = workload
        .parse()
        .map_err(|e| format!("{WHAT}: workload: {e}"))?;
    let allocators = names(WHAT, options, "allocators")?
        .unwrap_or_else(|| ALLOCATORS.map(String::from).to_vec());
    let page_sizes = match options.get("page_sizes") {
        None => vec![Dynamic::from(arch.page_bytes() as INT)],
        Some(v) => v
            .clone()
            .into_array()
            .map_err(|_| bad(WHAT, "page_sizes", "an array of page sizes in bytes", v))?,
    };
    let mut paging = Vec::with_capacity(page_sizes.len());
    for size in &page_sizes {
        let shift = size
            .as_int()
            .ok()
            .filter(|&n| n > 0 && (n as u64).is_power_of_two())
            .map(|n| (n as u64).trailing_zeros() as u8)
            .filter(|&shift| arch.level_for_page_shift(shift).is_some())
            .ok_or_else(|| {
                let expected = format!("page sizes the machine's scheme ({}) has", arch.name());
                bad(WHAT, "page_sizes", &expected, size)
            })?;
        paging.push(PagingConfig {
            arch: arch.clone(),
            page_shift: shift,
            tlb: default_tlb(arch),
        });
    }
    let compact = match options.get("compact") {
        None => false,
        Some(v) => v
            .as_bool()
            .map_err(|_| bad(WHAT, "compact", "true or false", v))?,
    };
    let config = CompareConfig {
        mem: size_option(WHAT, options, "mem", 8 << 20)?,
        allocators,
        paging,
        compact,
        segment_registers: int_option(WHAT, options, "segment_registers", Some(6), 1)? as usize,
        sample_every: int_option(WHAT, options, "sample_every", Some(100), 1)? as u64,
    };
    // One call is one Rhai operation: its work is bounded here instead,
    // as the bulk operations' is (a billion events ran for many minutes).
    let configs = (config.allocators.len() + config.paging.len()) as u64;
    let work = spec
        .n
        .saturating_mul(u64::from(spec.refs) + 1)
        .saturating_mul(configs);
    if work > MAX_COMPARE_WORK {
        return Err(format!(
            "{WHAT}: {} events of {} accesses each under {configs} configurations are {work} steps, \
             more than one call may take ({MAX_COMPARE_WORK}); `vmlab compare` runs larger workloads",
            spec.n,
            u64::from(spec.refs) + 1
        )
        .into());
    }
    let report = compare(&spec, &config).map_err(|e| format!("{WHAT}: {e}"))?;
    let mut out = Array::with_capacity(report.configs.len());
    for scheme in &report.configs {
        let mut value = serde_json::to_value(scheme)
            .map_err(|e| format!("{WHAT}: cannot convert the report: {e}"))?;
        if let serde_json::Value::Object(fields) = &mut value {
            fields.remove("series");
        }
        out.push(from_json(value));
    }
    Ok(out)
}

/// A JSON value as a script value (objects become maps).
fn from_json(value: serde_json::Value) -> Dynamic {
    use serde_json::Value;
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => b.into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().unwrap_or(f64::NAN).into(),
        },
        Value::String(s) => s.into(),
        Value::Array(items) => items.into_iter().map(from_json).collect::<Array>().into(),
        Value::Object(fields) => fields
            .into_iter()
            .map(|(k, v)| (k.into(), from_json(v)))
            .collect::<Map>()
            .into(),
    }
}
