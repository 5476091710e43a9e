//! A replacement policy as a user writes it: its name, then the parameters
//! it takes after colons, `aging:bits=4:tick=500` (colons, because a sweep
//! lists policies with commas). [`from_spec`] builds the policy and returns
//! the parameters it was built with, which the caller needs too: the clock
//! tick's interval is the machine's, read by the replacement model's
//! simulator and by the kernel, not by the policy.
//!
//! | policy | keys |
//! |---|---|
//! | `aging` | `bits` (counter width, 1 to 64; 8), `tick` (references between clock ticks; 1000) |
//! | `nfu` | `tick` |
//! | `nru` | `tick`, `seed` (of the choice within a class; 1) |
//! | `random` | `seed` (1) |
//! | `wsclock` | `tau` (the working-set window τ in references; 10 000) |
//! | `2q` | `kin`, `kout` (A1in's threshold and A1out's length as fractions of the frames; 0.25, 0.5) |
//! | `s3-fifo` | `small` (the small queue as a fraction of the frames; 0.1) |
//!
//! The other policies take none.

use super::{by_name, unknown_policy, PolicyError, PolicyParams, ReplacementPolicy, NAMES};

/// The keys each policy takes; a policy not listed takes none.
const KEYS: &[(&str, &[&str])] = &[
    ("aging", &["bits", "tick"]),
    ("nfu", &["tick"]),
    ("nru", &["tick", "seed"]),
    ("random", &["seed"]),
    ("wsclock", &["tau"]),
    ("2q", &["kin", "kout"]),
    ("s3-fifo", &["small"]),
];

/// The policy `spec` names with `capacity` frames, and the parameters it
/// was built with: `base` with the spec's keys laid over it.
pub fn from_spec(
    spec: &str,
    capacity: usize,
    base: &PolicyParams,
) -> Result<(Box<dyn ReplacementPolicy>, PolicyParams), PolicyError> {
    let (name, params) = parse_spec(spec, base)?;
    let policy = by_name(name, capacity, &params)?;
    Ok((policy, params))
}

/// The policy's name in `spec` and `base` with the spec's keys laid over
/// it. Values are checked for their form here and for their range where
/// the policy is built.
pub fn parse_spec<'a>(
    spec: &'a str,
    base: &PolicyParams,
) -> Result<(&'a str, PolicyParams), PolicyError> {
    let mut parts = spec.split(':');
    let name = parts.next().unwrap_or_default();
    if !NAMES.contains(&name) {
        return Err(unknown_policy(name));
    }
    let takes = KEYS
        .iter()
        .find(|(policy, _)| *policy == name)
        .map_or(&[][..], |(_, keys)| *keys);
    let fail = |message: String| PolicyError(format!("{spec}: {message}"));
    let mut params = base.clone();
    let mut seen: Vec<&str> = Vec::new();
    for part in parts {
        let Some((key, value)) = part.split_once('=') else {
            return Err(fail(format!("expected KEY=VALUE, found {part:?}")));
        };
        if !takes.contains(&key) {
            return Err(fail(match takes {
                [] => format!("{name} takes no parameters, found {key:?}"),
                _ => format!("{name} takes {}, not {key:?}", takes.join(" and ")),
            }));
        }
        if seen.contains(&key) {
            return Err(fail(format!("{key} is given twice")));
        }
        seen.push(key);
        let whole = |least: u64| {
            value
                .parse::<u64>()
                .ok()
                .filter(|&n| n >= least)
                .ok_or_else(|| {
                    fail(format!(
                        "{key}: expected a whole number of at least {least}, found {value:?}"
                    ))
                })
        };
        let fraction = || {
            value
                .parse::<f64>()
                .map_err(|_| fail(format!("{key}: expected a fraction, found {value:?}")))
        };
        match key {
            "bits" => {
                params.aging_bits = u8::try_from(whole(1)?).map_err(|_| {
                    fail(format!(
                        "bits: expected a counter of 1 to 64 bits, found {value}"
                    ))
                })?;
            }
            "tick" => params.tick_interval = whole(1)?,
            "seed" => params.seed = whole(0)?,
            "tau" => params.wsclock_tau = whole(1)?,
            "kin" => params.two_q_kin = fraction()?,
            "kout" => params.two_q_kout = fraction()?,
            _ => params.s3fifo_small = fraction()?,
        }
    }
    Ok((name, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(spec: &str) -> PolicyParams {
        parse_spec(spec, &PolicyParams::default()).unwrap().1
    }

    fn refused(spec: &str) -> String {
        match from_spec(spec, 64, &PolicyParams::default()) {
            Ok(_) => panic!("{spec} was accepted"),
            Err(e) => e.0,
        }
    }

    #[test]
    fn a_bare_name_keeps_the_base_parameters() {
        let base = PolicyParams {
            seed: 9,
            ..PolicyParams::default()
        };
        let (name, params) = parse_spec("random", &base).unwrap();
        assert_eq!(name, "random");
        assert_eq!(params.seed, 9);
        assert_eq!(params.tick_interval, base.tick_interval);
    }

    #[test]
    fn each_key_sets_its_parameter() {
        let p = parsed("aging:bits=4:tick=500");
        assert_eq!((p.aging_bits, p.tick_interval), (4, 500));
        assert_eq!(parsed("nru:seed=7:tick=3").seed, 7);
        assert_eq!(parsed("nfu:tick=20").tick_interval, 20);
        assert_eq!(parsed("random:seed=0").seed, 0);
        assert_eq!(parsed("wsclock:tau=64").wsclock_tau, 64);
        let p = parsed("2q:kin=0.3:kout=0.75");
        assert_eq!((p.two_q_kin, p.two_q_kout), (0.3, 0.75));
        assert_eq!(parsed("s3-fifo:small=0.2").s3fifo_small, 0.2);
        // Every policy with keys is listed under its real name.
        for (policy, _) in KEYS {
            assert!(NAMES.contains(policy), "{policy}");
        }
    }

    #[test]
    fn the_parameters_reach_the_policy() {
        // A 1-bit aging counter remembers one tick, an 8-bit one eight:
        // on a skewed stream over 8 pages in 4 frames they fault
        // differently, and so do ticks every 3 and every 30 references.
        use crate::policy::sim::ReplacementSim;
        let faults = |spec: &str| {
            let (policy, params) = from_spec(spec, 4, &PolicyParams::default()).unwrap();
            let mut sim = ReplacementSim::new(policy, 4, params.tick_interval);
            let mut state = 11u64;
            (0..400)
                .filter(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    // Pages 0-7, the low ones far more often.
                    let page = (state % 8).min(state % 13 % 8);
                    !sim.access(page, false)
                })
                .count()
        };
        assert_ne!(faults("aging:bits=1:tick=3"), faults("aging:bits=8:tick=3"));
        assert_ne!(faults("aging:tick=3"), faults("aging:tick=30"));
    }

    #[test]
    fn bad_specs_say_what_was_expected() {
        assert!(refused("agin:bits=4").contains("unknown replacement policy \"agin\""));
        assert_eq!(
            refused("aging:bitz=4"),
            "aging:bitz=4: aging takes bits and tick, not \"bitz\""
        );
        assert_eq!(
            refused("lru:tick=5"),
            "lru:tick=5: lru takes no parameters, found \"tick\""
        );
        assert_eq!(
            refused("aging:bits"),
            "aging:bits: expected KEY=VALUE, found \"bits\""
        );
        assert_eq!(
            refused("aging:tick=0"),
            "aging:tick=0: tick: expected a whole number of at least 1, found \"0\""
        );
        assert_eq!(
            refused("aging:bits=4:bits=5"),
            "aging:bits=4:bits=5: bits is given twice"
        );
        assert_eq!(
            refused("s3-fifo:small=lots"),
            "s3-fifo:small=lots: small: expected a fraction, found \"lots\""
        );
        // Ranges are the policy's to check.
        assert!(refused("aging:bits=65").contains("1 to 64 bits"));
        assert!(refused("aging:bits=300").contains("1 to 64 bits"));
        assert!(refused("s3-fifo:small=1.5").contains("from 0 to 1"));
        assert!(refused("2q:kin=-1").contains("from 0 to 1"));
        assert!(refused("random:").contains("expected KEY=VALUE"));
    }
}
