//! Allocation workloads: [`AllocSpec`], parsed from a command-line spec
//! such as `allocs:n=10000,min=1K,max=64K,live=200,seed=1`, and
//! [`AllocEvents`], the deterministic stream of [`AllocEvent`]s it builds.
//! Same spec, same events, so every configuration of a comparison sees the
//! same allocations, frees and accesses.
//!
//! The stream keeps about `live` objects alive: it allocates until `live`
//! objects exist, then alternates freeing a random live object and
//! allocating a new one, until it has made `n` allocations. After every
//! allocation or free come `refs` accesses, each to a random byte (8-byte
//! aligned) of a random live object. Objects are named by a slot in
//! `0..live`, reused after a free, so a consumer keeps per-slot state in a
//! flat vector.
//!
//! Keys (`n`, `min`, `max`, `live` (at most [`MAX_LIVE`]) required;
//! numbers take `K`, `M`, `G` suffixes, binary multiples):
//! - `dist`: the size distribution. `uniform` (default) over
//!   `min..=max`; `exp`, an exponential with mean `mean` (default
//!   `(max - min) / 4`) above `min`, truncated at `max` (many small objects,
//!   a few large); `bimodal`, a fraction `big` (default 0.2) uniform over
//!   the top eighth of `min..=max` and the rest over its bottom eighth.
//! - `refs`: accesses after each event (default 8).
//! - `seed` (default 1).

use crate::gen::{err, SpecError};
use std::fmt;
use std::str::FromStr;
use vmlab_kernel::policy::random::SplitMix64;

/// How object sizes are drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SizeDist {
    /// Uniform over `min..=max`.
    Uniform,
    /// `min` plus an exponential of this mean, truncated at `max`.
    Exponential {
        /// Mean of the exponential part, in bytes (at least 1).
        mean: u64,
    },
    /// Two modes: the bottom and top eighths of `min..=max`.
    Bimodal {
        /// Fraction of objects from the top mode.
        big: f64,
    },
}

/// A parsed, validated allocation workload.
#[derive(Clone, Debug, PartialEq)]
pub struct AllocSpec {
    /// Allocations to make.
    pub n: u64,
    /// Smallest object, in bytes (at least 1).
    pub min: u64,
    /// Largest object, in bytes.
    pub max: u64,
    /// Objects alive at once in the steady state.
    pub live: u32,
    /// Size distribution.
    pub dist: SizeDist,
    /// Accesses after each allocation or free.
    pub refs: u32,
    /// Seed of every random choice.
    pub seed: u64,
}

/// The most objects alive at once: per-slot state is kept in flat
/// vectors, so this bounds their size.
pub const MAX_LIVE: u32 = 1 << 24;

/// Keys an `allocs` spec takes; the first four are required.
const KEYS: &[&str] = &[
    "n", "min", "max", "live", "dist", "mean", "big", "refs", "seed",
];
const REQUIRED: usize = 4;

/// Parses a size as users type it: `4096`, `0x1000`, `1K`, `64KiB`, `2M`,
/// `1G`, `1T` (binary multiples). `None` for anything else or overflow.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok();
    }
    let upper = t.to_ascii_uppercase();
    let body = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (digits, shift) = match body.as_bytes().last() {
        Some(b'K') => (&body[..body.len() - 1], 10),
        Some(b'M') => (&body[..body.len() - 1], 20),
        Some(b'G') => (&body[..body.len() - 1], 30),
        Some(b'T') => (&body[..body.len() - 1], 40),
        _ => (body, 0),
    };
    let n: u64 = digits.parse().ok()?;
    n.checked_mul(1 << shift)
}

impl FromStr for AllocSpec {
    type Err = SpecError;

    fn from_str(spec: &str) -> Result<AllocSpec, SpecError> {
        let rest = match spec.split_once(':') {
            Some(("allocs", rest)) => rest,
            None if spec == "allocs" => "",
            _ => {
                return Err(err(
                    spec,
                    "an allocation workload (allocs:...)",
                    format!("{spec:?}"),
                ))
            }
        };
        let mut values: [Option<&str>; KEYS.len()] = [None; KEYS.len()];
        for item in rest.split(',').filter(|s| !s.is_empty()) {
            let context = format!("allocs:{item}");
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| err(&context, "key=value", format!("{item:?}")))?;
            let Some(k) = KEYS.iter().position(|&name| name == key) else {
                let expected = format!("a key of allocs ({})", KEYS.join(", "));
                return Err(err(&context, expected, format!("{key:?}")));
            };
            if values[k].replace(value).is_some() {
                return Err(err(&context, "each key once", format!("{key} again")));
            }
        }
        if let Some(k) = (0..REQUIRED).find(|&k| values[k].is_none()) {
            let expected = format!(
                "the key {} (allocs requires {})",
                KEYS[k],
                KEYS[..REQUIRED].join(", ")
            );
            return Err(err(spec, expected, "none"));
        }
        let get = |key: &str| {
            let k = KEYS.iter().position(|&name| name == key).unwrap_or(0);
            values[k].map(|v| (format!("allocs:{key}={v}"), v))
        };
        let size = |key: &str| -> Result<Option<u64>, SpecError> {
            get(key)
                .map(|(context, v)| {
                    parse_size(v).ok_or_else(|| {
                        err(
                            &context,
                            "a size such as 4096, 0x1000, 1K or 2M",
                            format!("{v:?}"),
                        )
                    })
                })
                .transpose()
        };
        let fraction = |key: &str, default: f64| -> Result<f64, SpecError> {
            match get(key) {
                None => Ok(default),
                Some((context, v)) => v
                    .parse::<f64>()
                    .ok()
                    .filter(|f| (0.0..=1.0).contains(f))
                    .ok_or_else(|| err(&context, "a fraction from 0 to 1", format!("{v:?}"))),
            }
        };
        let n = size("n")?.unwrap_or(0);
        let min = size("min")?.unwrap_or(0);
        let max = size("max")?.unwrap_or(0);
        let live = size("live")?.unwrap_or(0);
        if min == 0 {
            return Err(err(spec, "min of at least 1 byte", "min=0"));
        }
        if max < min {
            return Err(err(
                spec,
                "max at least min",
                format!("max={max} < min={min}"),
            ));
        }
        let live = u32::try_from(live)
            .ok()
            .filter(|&l| (1..=MAX_LIVE).contains(&l))
            .ok_or_else(|| {
                err(
                    spec,
                    format!("live from 1 to {MAX_LIVE}"),
                    format!("live={live}"),
                )
            })?;
        let refs = size("refs")?.unwrap_or(8);
        let refs = u32::try_from(refs)
            .map_err(|_| err(spec, "refs below 2^32", format!("refs={refs}")))?;
        let dist = match get("dist").map(|(_, v)| v) {
            None | Some("uniform") => SizeDist::Uniform,
            Some("exp") => {
                let mean = match (size("mean")?, get("mean")) {
                    (Some(0), Some((context, v))) => {
                        return Err(err(&context, "a mean of at least 1 byte", format!("{v:?}")))
                    }
                    (Some(mean), _) => mean,
                    // A range narrower than 4 bytes still has a mean.
                    (None, _) => ((max - min) / 4).max(1),
                };
                SizeDist::Exponential { mean }
            }
            Some("bimodal") => SizeDist::Bimodal {
                big: fraction("big", 0.2)?,
            },
            Some(other) => {
                return Err(err(
                    &format!("allocs:dist={other}"),
                    "uniform, exp or bimodal",
                    format!("{other:?}"),
                ))
            }
        };
        for (key, applies) in [
            ("mean", matches!(dist, SizeDist::Exponential { .. })),
            ("big", matches!(dist, SizeDist::Bimodal { .. })),
        ] {
            if !applies && get(key).is_some() {
                return Err(err(spec, format!("{key} only with its dist"), key));
            }
        }
        Ok(AllocSpec {
            n,
            min,
            max,
            live,
            dist,
            refs,
            seed: size("seed")?.unwrap_or(1),
        })
    }
}

/// The spec with every key spelled out, defaults included; it parses back
/// to the same spec.
impl fmt::Display for AllocSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "allocs:n={},min={},max={},live={}",
            self.n, self.min, self.max, self.live
        )?;
        match self.dist {
            SizeDist::Uniform => f.write_str(",dist=uniform")?,
            SizeDist::Exponential { mean } => write!(f, ",dist=exp,mean={mean}")?,
            SizeDist::Bimodal { big } => write!(f, ",dist=bimodal,big={big}")?,
        }
        write!(f, ",refs={},seed={}", self.refs, self.seed)
    }
}

impl AllocSpec {
    /// A fresh event stream, from the beginning.
    pub fn events(&self) -> AllocEvents {
        let live = self.live as usize;
        AllocEvents {
            spec: self.clone(),
            rng: SplitMix64::new(self.seed),
            sizes: vec![0; live],
            live: Vec::with_capacity(live),
            idle: (0..self.live).rev().collect(),
            allocated: 0,
            pending_refs: 0,
        }
    }
}

/// One step of an allocation workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllocEvent {
    /// Object `slot` is created with `size` bytes.
    Allocate {
        /// The object's slot, in `0..live`.
        slot: u32,
        /// Its size in bytes.
        size: u64,
    },
    /// Object `slot` is freed.
    Free {
        /// The object's slot.
        slot: u32,
    },
    /// The byte at `offset` of live object `slot` is read.
    Access {
        /// The object's slot.
        slot: u32,
        /// Offset within the object.
        offset: u64,
    },
}

/// The events of an [`AllocSpec`]; see the module doc.
#[derive(Clone, Debug)]
pub struct AllocEvents {
    spec: AllocSpec,
    rng: SplitMix64,
    /// Size of the object in each slot.
    sizes: Vec<u64>,
    /// Slots of live objects.
    live: Vec<u32>,
    /// Slots free for a new object; the lowest is reused first.
    idle: Vec<u32>,
    allocated: u64,
    pending_refs: u32,
}

impl AllocEvents {
    /// A uniform double in [0, 1) from the top 53 bits.
    fn unit(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn uniform(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.rng.below(hi - lo + 1)
    }

    fn size(&mut self) -> u64 {
        let (min, max) = (self.spec.min, self.spec.max);
        match self.spec.dist {
            SizeDist::Uniform => self.uniform(min, max),
            SizeDist::Exponential { mean } => {
                // Inverse CDF of the exponential truncated to 0..=max - min.
                let mean = mean as f64;
                let span = (max - min) as f64;
                let tail = 1.0 - (-span / mean).exp();
                let x = -mean * (1.0 - self.unit() * tail).ln();
                min + (x as u64).min(max - min)
            }
            SizeDist::Bimodal { big } => {
                let eighth = (max - min) / 8;
                if self.unit() < big {
                    self.uniform(max - eighth, max)
                } else {
                    self.uniform(min, min + eighth)
                }
            }
        }
    }
}

impl Iterator for AllocEvents {
    type Item = AllocEvent;

    fn next(&mut self) -> Option<AllocEvent> {
        if self.pending_refs > 0 && !self.live.is_empty() {
            self.pending_refs -= 1;
            let slot = self.live[self.rng.below(self.live.len() as u64) as usize];
            let offset = self.rng.below(self.sizes[slot as usize]) & !7;
            return Some(AllocEvent::Access { slot, offset });
        }
        if self.allocated == self.spec.n {
            return None;
        }
        self.pending_refs = self.spec.refs;
        if let Some(slot) = self.idle.pop() {
            let size = self.size();
            self.sizes[slot as usize] = size;
            self.live.push(slot);
            self.allocated += 1;
            Some(AllocEvent::Allocate { slot, size })
        } else {
            let i = self.rng.below(self.live.len() as u64) as usize;
            let slot = self.live.swap_remove(i);
            // Keep the lowest idle slot on top, so slots are reused in order.
            let at = self.idle.partition_point(|&s| s > slot);
            self.idle.insert(at, slot);
            Some(AllocEvent::Free { slot })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> AllocSpec {
        text.parse().unwrap()
    }

    #[test]
    fn sizes_as_users_type_them() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("0x1000"), Some(4096));
        assert_eq!(parse_size("1K"), Some(1024));
        assert_eq!(parse_size("64KiB"), Some(65536));
        assert_eq!(parse_size("2m"), Some(2 << 20));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("3x"), None);
        assert_eq!(parse_size("99999999999T"), None);
    }

    #[test]
    fn parses_the_example_and_defaults() {
        let s = spec("allocs:n=10000,min=1K,max=64K,live=200,seed=1");
        assert_eq!(
            (s.n, s.min, s.max, s.live, s.seed),
            (10000, 1024, 65536, 200, 1)
        );
        assert_eq!((s.dist, s.refs), (SizeDist::Uniform, 8));
        let e = spec("allocs:n=1,min=1K,max=9K,live=1,dist=exp");
        assert_eq!(e.dist, SizeDist::Exponential { mean: 2048 });
        let b = spec("allocs:n=1,min=1,max=8,live=1,dist=bimodal,big=0.5,refs=0");
        assert_eq!((b.dist, b.refs), (SizeDist::Bimodal { big: 0.5 }, 0));
        assert_eq!(
            s.to_string(),
            "allocs:n=10000,min=1024,max=65536,live=200,dist=uniform,refs=8,seed=1"
        );
        for x in [s, e, b] {
            assert_eq!(spec(&x.to_string()), x);
        }
    }

    #[test]
    fn bad_specs_name_the_part_at_fault() {
        let e = |t: &str| t.parse::<AllocSpec>().unwrap_err().to_string();
        assert!(e("zipf:n=1").contains("an allocation workload"));
        assert!(e("allocs:n=1,min=1,max=2").contains("the key live"));
        assert!(e("allocs:n=1,min=1,max=2,live=1,size=3").contains("a key of allocs"));
        assert!(e("allocs:n=1,n=2,min=1,max=2,live=1").contains("each key once"));
        assert!(e("allocs:n=1,min=1,max=2x,live=1").contains("allocs:max=2x: expected a size"));
        assert!(e("allocs:n=1,min=0,max=2,live=1").contains("min of at least 1"));
        assert!(e("allocs:n=1,min=4,max=2,live=1").contains("max at least min"));
        assert!(e("allocs:n=1,min=1,max=2,live=0").contains("live from 1"));
        assert!(e("allocs:n=1,min=1,max=2,live=4G").contains("live from 1 to 16777216"));
        assert_eq!(spec("allocs:n=1,min=1,max=2,live=16M").live, MAX_LIVE);
        assert!(e("allocs:n=1,min=1,max=2,live=1,dist=pareto").contains("allocs:dist=pareto"));
        assert!(e("allocs:n=1,min=1,max=2,live=1,dist=bimodal,big=2").contains("fraction"));
        assert!(e("allocs:n=1,min=1,max=2,live=1,mean=3").contains("mean only with its dist"));
        // A mean of 0 ran as a mean of 1.
        assert_eq!(
            e("allocs:n=10,min=1K,max=64K,live=2,dist=exp,mean=0"),
            "allocs:mean=0: expected a mean of at least 1 byte, found \"0\""
        );
        assert!(e("allocs:n=1,min=1,max=2,live=1,refs").contains("key=value"));
    }

    /// The stream fills `live` slots, then alternates free and allocate,
    /// with `refs` accesses inside live objects after each event.
    #[test]
    fn stream_keeps_live_objects_and_accesses_inside_them() {
        let s = spec("allocs:n=500,min=100,max=5000,live=20,refs=3,seed=7");
        let mut sizes: Vec<Option<u64>> = vec![None; 20];
        let (mut allocs, mut frees, mut accesses) = (0, 0, 0);
        let mut since_event = 0;
        for ev in s.events() {
            match ev {
                AllocEvent::Allocate { slot, size } => {
                    assert!(sizes[slot as usize].is_none());
                    assert!((100..=5000).contains(&size));
                    assert_eq!(since_event, if allocs + frees == 0 { 0 } else { 3 });
                    sizes[slot as usize] = Some(size);
                    allocs += 1;
                    since_event = 0;
                }
                AllocEvent::Free { slot } => {
                    assert!(sizes[slot as usize].take().is_some());
                    assert_eq!(sizes.iter().flatten().count(), 19, "frees only when full");
                    frees += 1;
                    since_event = 0;
                }
                AllocEvent::Access { slot, offset } => {
                    let size = sizes[slot as usize].unwrap();
                    assert!(offset < size && offset % 8 == 0);
                    accesses += 1;
                    since_event += 1;
                }
            }
        }
        assert_eq!((allocs, frees), (500, 480));
        assert_eq!(accesses, 3 * (500 + 480));
        assert_eq!(
            s.events().collect::<Vec<_>>(),
            s.events().collect::<Vec<_>>()
        );
    }

    #[test]
    fn distributions_have_their_shapes() {
        let sizes = |text: &str| -> Vec<u64> {
            spec(text)
                .events()
                .filter_map(|e| match e {
                    AllocEvent::Allocate { size, .. } => Some(size),
                    _ => None,
                })
                .collect()
        };
        let mean = |v: &[u64]| v.iter().sum::<u64>() as f64 / v.len() as f64;
        let u = sizes("allocs:n=20000,min=1000,max=9000,live=10,refs=0");
        assert!((mean(&u) - 5000.0).abs() < 100.0, "{}", mean(&u));
        // Truncation at 8000 above min barely moves a mean of 1000.
        let e = sizes("allocs:n=20000,min=1000,max=9000,live=10,refs=0,dist=exp,mean=1000");
        assert!((mean(&e) - 2000.0).abs() < 60.0, "{}", mean(&e));
        assert!(e.iter().all(|&s| (1000..=9000).contains(&s)));
        let b = sizes("allocs:n=20000,min=1000,max=9000,live=10,refs=0,dist=bimodal,big=0.25");
        let big = b.iter().filter(|&&s| s >= 8000).count() as f64 / b.len() as f64;
        assert!((big - 0.25).abs() < 0.02, "{big}");
        assert!(b.iter().all(|&s| s <= 2000 || s >= 8000));
    }
}
