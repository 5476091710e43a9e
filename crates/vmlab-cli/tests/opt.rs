//! OPT (Belady's MIN) by name, as every other policy: `vmlab run`,
//! `sweep` and `explain` on generators and trace files give it the
//! workload's future; its faults are the textbooks' and a brute-force
//! search's, never more than LRU's, FIFO's or ARC's; where no future can
//! be had, the refusal names the flag or the machine file's position.

mod common;

use common::{refused, stdout_of};
use std::path::PathBuf;

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vmlab-cli-opt-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A text trace (an address list) reading page `p` at `p × 4096`, for
/// each of `pages`.
fn page_string_trace(dir: &std::path::Path, pages: &[u64]) -> String {
    let text: String = pages.iter().map(|p| format!("{:#x}\n", p * 4096)).collect();
    let path = dir.join("pages.addr");
    std::fs::write(&path, text).expect("write trace");
    path.to_str().expect("utf-8 path").to_string()
}

/// `vmlab run ... --json`'s `faults`.
fn faults(args: &[&str]) -> u64 {
    let mut argv = args.to_vec();
    argv.push("--json");
    let doc: serde_json::Value = serde_json::from_str(&stdout_of(&argv)).expect("json");
    doc["faults"].as_u64().expect("faults")
}

/// OPT's faults in the replacement model on `workload` (its flags) with
/// `frames` frames.
fn opt_faults(workload: &[&str], frames: usize) -> u64 {
    let frames = frames.to_string();
    let mut argv = vec!["run"];
    argv.extend_from_slice(workload);
    argv.extend_from_slice(&[
        "--frames",
        &frames,
        "--policy",
        "opt",
        "--model",
        "replacement",
    ]);
    faults(&argv)
}

/// The fewest faults any demand-paging choice of victims has on `refs`
/// with `frames` frames: every victim tried, in a search that knows
/// nothing of next uses.
fn fewest_faults(refs: &[u64], frames: usize, resident: &mut Vec<u64>) -> u64 {
    let Some((&page, rest)) = refs.split_first() else {
        return 0;
    };
    if resident.contains(&page) {
        return fewest_faults(rest, frames, resident);
    }
    if resident.len() < frames {
        resident.push(page);
        let n = 1 + fewest_faults(rest, frames, resident);
        resident.pop();
        return n;
    }
    let mut best = u64::MAX;
    for i in 0..resident.len() {
        let gone = std::mem::replace(&mut resident[i], page);
        best = best.min(1 + fewest_faults(rest, frames, resident));
        resident[i] = gone;
    }
    best
}

#[test]
fn opt_has_the_textbooks_faults_on_a_page_string() {
    let dir = scratch("textbook");
    // Silberschatz OSC 10e figure 10.14: 9 faults with three frames.
    let osc = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1];
    // Belady, Nelson & Shedler's string: 7 with three frames, 6 with four.
    let belady = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];
    for (string, frames, expected) in [(&osc[..], 3, 9), (&belady, 3, 7), (&belady, 4, 6)] {
        let trace = page_string_trace(&dir, string);
        let got = opt_faults(&["--trace", &trace], frames);
        assert_eq!(got, expected, "{string:?} on {frames} frames");
        assert_eq!(got, fewest_faults(string, frames, &mut Vec::new()));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn opt_on_a_generator_has_the_fewest_faults_any_choice_has() {
    // A loop over 5 pages, 20 references: the string 0 1 2 3 4 0 1 ...
    let string: Vec<u64> = (0..20).map(|i| i % 5).collect();
    for frames in [2usize, 3, 4] {
        let got = opt_faults(&["--gen", "loop:pages=5,n=20"], frames);
        assert_eq!(
            got,
            fewest_faults(&string, frames, &mut Vec::new()),
            "{frames}"
        );
    }
}

/// The sweep's rows for `gen` at `frames` in `models`, by (model, policy,
/// frames): faults.
fn sweep_faults(gen: &str, frames: &str, models: &str) -> Vec<(String, String, u64, u64)> {
    let doc: serde_json::Value = serde_json::from_str(&stdout_of(&[
        "sweep",
        "--gen",
        gen,
        "--policies",
        "opt,lru,fifo,arc",
        "--frames",
        frames,
        "--model",
        models,
        "--json",
    ]))
    .expect("json");
    doc.as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["model"].as_str().expect("model").to_string(),
                r["policy"].as_str().expect("policy").to_string(),
                r["frames"].as_u64().expect("frames"),
                r["faults"].as_u64().expect("faults"),
            )
        })
        .collect()
}

#[test]
fn opt_never_faults_more_than_lru_fifo_or_arc_in_either_model() {
    for gen in [
        "zipf:pages=400,alpha=0.9,n=6000,seed=5",
        "loop:pages=60,n=3000",
        "phases:pages=400,ws=60,phase=1000,n=5000,seed=2",
        "uniform:pages=200,n=4000,seed=9",
    ] {
        let rows = sweep_faults(gen, "16,48,96", "replacement,full");
        assert_eq!(
            rows.len(),
            2 * 4 * 3,
            "{gen}: every configuration has its row"
        );
        for (model, policy, frames, f) in &rows {
            let opt = rows
                .iter()
                .find(|(m, p, n, _)| m == model && p == "opt" && n == frames)
                .expect("opt's row")
                .3;
            assert!(
                opt <= *f,
                "{gen} {model} {frames}: opt {opt} > {policy} {f}"
            );
        }
    }
}

#[test]
fn sweep_runs_opt_beside_another_policy() {
    let rows = sweep_faults(
        "zipf:pages=300,alpha=1.0,n=4000,seed=1",
        "20,60",
        "replacement",
    );
    for policy in ["opt", "lru"] {
        let frames: Vec<u64> = rows.iter().filter(|r| r.1 == policy).map(|r| r.2).collect();
        assert_eq!(frames, [20, 60], "{policy}");
    }
}

#[test]
fn explain_narrates_opts_choices() {
    let text = stdout_of(&[
        "explain",
        "--gen",
        "loop:pages=5,n=40",
        "--frames",
        "8",
        "--policy",
        "opt",
        "--count",
        "2000",
    ]);
    assert!(text.contains("opt replacement"), "{text}");
    assert!(text.contains("optimal: frame"), "{text}");
}

#[test]
fn where_opt_has_no_future_the_refusal_names_the_setting() {
    let dir = scratch("refusals");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/scripts/cow.rhai"
    );
    // A script's references are known only as it runs.
    for command in ["run", "explain"] {
        let err = refused(&[command, script, "--policy", "opt"]);
        assert!(
            err.contains("--policy: opt needs every reference of the workload before it runs"),
            "{err}"
        );
        assert!(err.contains("--gen SPEC or --trace FILE"), "{err}");
    }
    // In a machine file, the key's line and column.
    let file = dir.join("opt.toml");
    std::fs::write(&file, "frames = 64\npolicy = \"opt\"\n").expect("write machine");
    let file = file.to_str().expect("utf-8 path");
    let err = refused(&["run", script, "--machine", file]);
    assert!(
        err.contains(&format!(
            "{file}:2:10: key `policy`: opt needs every reference"
        )),
        "{err}"
    );
    // A trace that cannot be read twice.
    for command in ["run", "explain"] {
        let err = refused(&[command, "--trace", "/dev/null", "--policy", "opt"]);
        assert!(
            err.contains("--policy: /dev/null can be read only once")
                && err.contains("opt reads it twice"),
            "{err}"
        );
    }
    // A trace whose system calls the full model replays; the replacement
    // model leaves them out and runs it.
    let trace = dir.join("calls.lackey");
    std::fs::write(
        &trace,
        "==1== Lackey\n L 06000000,8\nSYSCALL[7,1](9) sys_mmap ( 0x0, 8192, 3, 34, 4294967295, 0 ) --> [pre-success] Success(0x4835000)\n L 06001000,8\n",
    )
    .expect("write trace");
    let trace = trace.to_str().expect("utf-8 path");
    let err = refused(&["run", "--trace", trace, "--machine", file]);
    assert!(
        err.contains(&format!(
            "{file}:2:10: key `policy`: opt cannot run this trace in the full model"
        )),
        "{err}"
    );
    assert!(err.contains("use --model replacement"), "{err}");
    let err = refused(&[
        "sweep",
        "--trace",
        trace,
        "--policies",
        "lru,opt",
        "--frames",
        "8",
    ]);
    assert!(
        err.contains("--policies: opt cannot run this trace"),
        "{err}"
    );
    assert_eq!(
        faults(&[
            "run",
            "--trace",
            trace,
            "--machine",
            file,
            "--model",
            "replacement"
        ]),
        2
    );
    // A future too large for any host: refused before it is read.
    let err = refused(&[
        "run",
        "--gen",
        "uniform:pages=10,n=100000000000000000",
        "--policy",
        "opt",
        "--model",
        "replacement",
    ]);
    assert!(
        err.contains("--policy: opt needs the next use of every reference (8 bytes each)"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
