//! What a machine will hold in this host's memory, found before it is
//! built. The binary's allocator counts the bytes each thread holds
//! ([`crate::allocator`]); [`refuse_unless_all_fit`] builds each machine
//! ([`Planned`]) twice at small sizes, projects the bytes a frame costs to
//! the frames asked for, and refuses machines larger than the host's
//! memory, alone or run together, with an error that says so, where
//! building them would have aborted on a failed allocation (or thrashed
//! first). The frame table and every policy's state grow linearly with
//! the frames; contents of pages a workload touches come on top, and are
//! the workload's to answer for.
use crate::allocator::held_while;
use vmlab_kernel::{Kernel, KernelConfig};
use vmlab_workload::driver::{build_only, Machine, Model};
use vmlab_workload::sweep::model_name;

/// The two sizes the machine is built at to measure it: powers of two,
/// so that tables rounded up to one are rounded alike at both.
const PROBES: [usize; 2] = [1 << 14, 1 << 16];

/// A machine about to be built: its frames, its name in messages ("the
/// full model with lru"), and how to build (and drop) it at a given
/// number of frames, false if it cannot be built.
pub struct Planned<'a> {
    /// Frames of the machine asked for.
    pub frames: usize,
    /// What the machine is, for the message.
    pub what: String,
    /// Builds the machine at a number of frames and drops it.
    pub build: Box<dyn Fn(usize) -> bool + 'a>,
}

impl<'a> Planned<'a> {
    /// A run of the trace driver: `machine` in `model`.
    pub fn run(machine: &'a Machine, model: Model) -> Planned<'a> {
        Planned {
            frames: machine.frames,
            what: name(model, &machine.policy),
            build: Box::new(move |frames| {
                let probe = Machine {
                    frames,
                    ..machine.clone()
                };
                build_only(&probe, model).is_ok()
            }),
        }
    }

    /// A kernel booted from `config` (a script's machine: the full model).
    pub fn kernel(config: &'a KernelConfig) -> Planned<'a> {
        Planned {
            frames: config.frames,
            what: name(Model::Full, &config.policy),
            build: Box::new(move |frames| {
                let probe = KernelConfig {
                    frames,
                    ..config.clone()
                };
                Kernel::new(probe).is_ok()
            }),
        }
    }

    /// The bytes the machine would hold, and the bytes a frame costs;
    /// `None` (unmeasured) for a machine no larger than the probes, or one
    /// that cannot be built at all (its real build names the setting at
    /// fault).
    fn projection(&self) -> Option<(f64, f64)> {
        if self.frames <= PROBES[1] {
            return None;
        }
        let [small, large] = PROBES.map(|probe| held_while(|| (self.build)(probe)));
        let (small, large) = (small? as f64, large? as f64);
        let per_frame = (large - small).max(0.0) / (PROBES[1] - PROBES[0]) as f64;
        Some((
            small + per_frame * (self.frames - PROBES[0]) as f64,
            per_frame,
        ))
    }
}

/// A machine's name in messages: "the full model with lru".
fn name(model: Model, policy: &str) -> String {
    format!("the {} model with {policy}", model_name(model))
}

/// Refuses, with a message, machines whose state would not fit in this
/// host's memory: any one of them, or the `at_once` largest together (a
/// sweep runs that many at a time). Returns the memory they leave, for
/// what the machines share besides (OPT's future); `None` on a host whose
/// memory is unknown, which passes every machine.
pub fn refuse_unless_all_fit(
    planned: &[Planned<'_>],
    at_once: usize,
) -> Result<Option<u64>, String> {
    fit_at_once(planned, at_once, at_once).map(|(_, room)| room)
}

/// [`refuse_unless_all_fit`] for the `at_least` largest together; then
/// how many of the largest, from `at_least` up to `at_most`, fit together
/// (a sweep that shares its readings of a trace runs as many at once as
/// memory allows), and the memory those leave.
pub fn fit_at_once(
    planned: &[Planned<'_>],
    at_least: usize,
    at_most: usize,
) -> Result<(usize, Option<u64>), String> {
    let at_most = at_most.max(at_least);
    let Some(host) = host_memory() else {
        return Ok((at_most, None));
    };
    let host = host as f64;
    let mut needs = Vec::new();
    for machine in planned {
        let Some((needed, per_frame)) = machine.projection() else {
            continue;
        };
        if needed > host {
            return Err(format!(
                "{} frames of {} would take about {} ({per_frame:.0} bytes a frame), more than the {} of memory this process may use",
                machine.frames,
                machine.what,
                gib(needed),
                gib(host)
            ));
        }
        needs.push(needed);
    }
    needs.sort_by(|a, b| b.total_cmp(a));
    // The bytes the `n` largest take together (machines too small to
    // measure count as nothing).
    let together = |n: usize| -> f64 { needs.iter().take(n).sum() };
    let required = needs.len().min(at_least);
    if required > 1 && together(required) > host {
        return Err(format!(
            "the {required} largest configurations, run at once, would take about {} together, more than the {} of memory this process may use (--jobs 1 runs one at a time)",
            gib(together(required)),
            gib(host)
        ));
    }
    let mut fitting = at_least;
    while fitting < at_most {
        if fitting >= needs.len() {
            // The rest are too small to count.
            fitting = at_most;
        } else if together(fitting + 1) <= host {
            fitting += 1;
        } else {
            break;
        }
    }
    Ok((fitting, Some((host - together(fitting)) as u64)))
}

fn gib(bytes: f64) -> String {
    format!("{:.1} GiB", bytes / f64::from(1u32 << 30))
}

/// The memory this process may use: the host's (`MemTotal`), or its
/// control group's limit or its address-space limit if lower. `None`
/// where the host's cannot be read.
fn host_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let total_kib: u64 = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let total = total_kib * 1024;
    // cgroup v2's limit, "max" when there is none.
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok());
    // The process's own address-space limit (`ulimit -v`): an allocation
    // past it fails as surely as one past the host's memory.
    let address_space = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| address_space_limit(&text));
    Some(
        [cgroup, address_space]
            .into_iter()
            .flatten()
            .fold(total, u64::min),
    )
}

/// The soft "Max address space" limit in `/proc/self/limits` text, in
/// bytes; `None` when unlimited.
fn address_space_limit(limits: &str) -> Option<u64> {
    limits
        .lines()
        .find_map(|line| line.strip_prefix("Max address space"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ulimit -v` bounds what a run may allocate; "unlimited" does not.
    #[test]
    fn the_address_space_limit_is_read_from_proc_limits() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max address space         4096000000           unlimited            bytes     \n";
        assert_eq!(address_space_limit(limits), Some(4_096_000_000));
        let unlimited = limits.replace("4096000000", "unlimited ");
        assert_eq!(address_space_limit(&unlimited), None);
    }

    /// A machine of `per_frame` bytes a frame.
    fn machine(frames: usize, per_frame: usize) -> Planned<'static> {
        Planned {
            frames,
            what: "a test machine".into(),
            build: Box::new(move |frames| {
                std::hint::black_box(vec![1u8; frames * per_frame]);
                true
            }),
        }
    }

    /// Refused when its projected size exceeds the host, passed otherwise,
    /// with the size in the message.
    #[test]
    fn a_machine_larger_than_the_host_is_refused_by_its_projected_size() {
        let host = host_memory().expect("a Linux host says how much memory it has") as usize;
        let too_many = host / 100 * 2;
        let err = refuse_unless_all_fit(&[machine(too_many, 100)], 1).unwrap_err();
        assert!(err.contains("(100 bytes a frame)"), "{err}");
        assert!(
            err.contains(&format!("{too_many} frames of a test machine")),
            "{err}"
        );
        assert!(refuse_unless_all_fit(&[machine(host / 400, 100)], 1).is_ok());
    }

    /// Two machines of 60% of the host each fit one at a time, not two.
    #[test]
    fn machines_that_fit_alone_may_not_fit_together() {
        let host = host_memory().expect("a Linux host says how much memory it has") as usize;
        let big = || machine(host / 100 * 6 / 10, 100);
        let small = || machine(1 << 20, 100);
        assert!(refuse_unless_all_fit(&[big(), big()], 1).is_ok());
        assert!(refuse_unless_all_fit(&[big(), small(), small()], 2).is_ok());
        let err = refuse_unless_all_fit(&[small(), big(), big()], 2).unwrap_err();
        assert!(
            err.starts_with("the 2 largest configurations, run at once"),
            "{err}"
        );
    }

    /// A sweep that may run up to all its machines at once runs as many of
    /// the largest as fit together, at least the number it must.
    #[test]
    fn as_many_run_at_once_as_fit_together() {
        let host = host_memory().expect("a Linux host says how much memory it has") as usize;
        let third = || machine(host / 100 * 3 / 10, 100);
        let small = || machine(1 << 20, 100);
        let (n, room) = fit_at_once(&[third(), small(), third(), third(), third()], 1, 5).unwrap();
        // Three of the 30% machines fit (90%); a fourth would not, and
        // the small one is smaller than each of them.
        assert_eq!(n, 3);
        assert!(
            room.is_some_and(|r| (r as usize) < host / 10 + host / 100),
            "{room:?}"
        );
        // Machines too small to measure take no room: all of them.
        let tiny = || machine(1000, 100);
        assert_eq!(fit_at_once(&[tiny(), tiny(), tiny()], 1, 3).unwrap().0, 3);
        assert_eq!(fit_at_once(&[small(), small()], 2, 8).unwrap().0, 8);
        // What must run together is still refused when it cannot.
        let half = || machine(host / 100 * 6 / 10, 100);
        assert!(fit_at_once(&[half(), half()], 2, 2).is_err());
        assert_eq!(fit_at_once(&[half(), half()], 1, 2).unwrap().0, 1);
    }

    /// The real build gives the error, naming the setting at fault.
    #[test]
    fn a_machine_that_cannot_be_built_is_left_to_the_build() {
        let unbuildable = Planned {
            frames: 1 << 40,
            what: "x".into(),
            build: Box::new(|_| false),
        };
        assert!(refuse_unless_all_fit(&[unbuildable], 1).is_ok());
    }
}
