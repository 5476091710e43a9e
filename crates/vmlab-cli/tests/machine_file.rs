//! `--machine FILE` end to end: a script and a generator run on the
//! machine a file describes, flags override its keys, and a bad file is
//! refused naming its line and column, with exit status 2.

mod common;

use common::{refused, stdout_of, vmlab};
use std::path::PathBuf;

const COW_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/scripts/cow.rhai"
);

/// Writes `text` to a machine file of its own and returns its path.
fn machine_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vmlab-machine-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("machine file written");
    path
}

fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&stdout_of(args)).expect("JSON")
}

#[test]
fn a_script_runs_on_the_files_machine_and_flags_override_it() {
    let file = machine_file(
        "script.toml",
        "frames = 600\npolicy = \"clock\"\nscope = \"local\"\nswap = \"1MiB\"\npersonality = \"xv6\"\n",
    );
    let file = file.to_str().unwrap();
    let v = json(&["run", COW_SCRIPT, "--machine", file, "--json"]);
    assert_eq!(v["frames"], 600);
    assert_eq!(v["policy"], "clock");
    assert_eq!(v["swap_slots"], 256);
    assert_eq!(v["personality"], "xv6");
    assert_eq!(v["scope"], "local");
    // --mem and --frames are one setting; --policy replaces the file's.
    let v = json(&[
        "run",
        COW_SCRIPT,
        "--machine",
        file,
        "--mem",
        "2MiB",
        "--policy",
        "fifo",
        "--scope",
        "global",
        "--json",
    ]);
    assert_eq!(v["frames"], 512);
    assert_eq!(v["policy"], "fifo");
    assert_eq!(v["scope"], "global");
    assert_eq!(v["swap_slots"], 256);
}

#[test]
fn a_generator_runs_on_the_files_memory_and_policy() {
    // Kernel-only keys are read but have no effect on a trace-mode run.
    let file = machine_file(
        "gen.toml",
        "frames = 50\npolicy = \"fifo\"\nhuge-pages = 0\n",
    );
    let v = json(&[
        "run",
        "--gen",
        "loop:pages=60,n=600",
        "--machine",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(v["frames"], 50);
    assert_eq!(v["policy"], "fifo");
    // A loop over 60 pages in 50 frames under FIFO faults on every reference.
    assert_eq!(v["faults"], 600);
}

#[test]
fn a_bad_machine_file_is_refused_at_its_line_and_column() {
    let file = machine_file("bad.toml", "frames = 100\npolicy = \"lur\"\n");
    let err = refused(&["run", COW_SCRIPT, "--machine", file.to_str().unwrap()]);
    assert!(
        err.starts_with(&format!(
            "vmlab: error: {}:2:10: key `policy`: unknown replacement policy \"lur\"",
            file.display()
        )),
        "{err}"
    );
    // The kernel's refusal of a value is placed at the value too.
    let file = machine_file("tiny.toml", "\nframes = 3\n");
    let err = refused(&["run", COW_SCRIPT, "--machine", file.to_str().unwrap()]);
    assert!(
        err.starts_with(&format!(
            "vmlab: error: {}:2:10: key `frames`: 3 frames cannot hold",
            file.display()
        )),
        "{err}"
    );
    // So is a memory larger than the host's.
    let file = machine_file("huge.toml", "policy = \"arc\"\nframes = 3000000000\n");
    let err = refused(&["run", COW_SCRIPT, "--machine", file.to_str().unwrap()]);
    assert!(
        err.starts_with(&format!(
            "vmlab: error: {}:2:10: key `frames`: 3000000000 frames of the full model with arc would take about",
            file.display()
        )),
        "{err}"
    );
    // A flag overriding that value is the one named.
    let err = refused(&["run", COW_SCRIPT, "--frames", "3"]);
    assert!(err.starts_with("vmlab: error: --frames: 3 frames"), "{err}");
    let err = refused(&["run", COW_SCRIPT, "--machine", "/nonexistent/m.toml"]);
    assert!(err.contains("/nonexistent/m.toml: cannot read"), "{err}");
}

/// A TLB array for a page size the scheme lacks was accepted and never
/// filled (every data access missed the L1d): refused now, at the file's
/// key or the flag, on every kind of run.
#[test]
fn a_tlb_array_for_a_page_size_the_scheme_lacks_is_refused_where_given() {
    let file = machine_file(
        "tlb16k.toml",
        "frames = 64\ntlb = \"l1d:64:4@16K,l1i:64:4\"\n",
    );
    let expected = "key `tlb`: levels[0].arrays[0].page_shifts: level L1d: x86-64 has no 16K pages (its page sizes: 4K, 2M, 1G)";
    for model in ["full", "replacement"] {
        let err = refused(&[
            "run",
            "--gen",
            "loop:pages=5,n=20",
            "--model",
            model,
            "--machine",
            file.to_str().unwrap(),
        ]);
        assert_eq!(
            err.trim_end(),
            format!("vmlab: error: {}:2:7: {expected}", file.display())
        );
    }
    // The kernel-only keys have no effect on a trace run, but are checked
    // all the same: a pool larger than memory passed there.
    let file = machine_file("pool.toml", "frames = 64\nhuge-pages = 100000\n");
    let err = refused(&[
        "run",
        "--gen",
        "loop:pages=5,n=20",
        "--machine",
        file.to_str().unwrap(),
    ]);
    assert!(
        err.starts_with(&format!(
            "vmlab: error: {}:2:14: key `huge-pages`: 100000 huge pages of 2 MiB need more than the 64 frames",
            file.display()
        )),
        "{err}"
    );
    let err = refused(&["translate", "--tlb", "l1d:64:4@512G,l1i:64:4"]);
    assert!(
        err.starts_with("vmlab: error: --tlb: levels[0].arrays[0].page_shifts: level L1d: x86-64 has no 512G pages"),
        "{err}"
    );
}

#[test]
fn kernel_only_flags_are_refused_on_a_generator_run() {
    let err = refused(&["run", "--gen", "seq:pages=10,n=10", "--huge-pages", "2"]);
    assert!(
        err.contains("--huge-pages: applies to a SCRIPT only"),
        "{err}"
    );
    let err = refused(&["run", "--gen", "seq:pages=10,n=10", "--read-ahead", "2"]);
    assert!(
        err.contains("--read-ahead: applies to a SCRIPT only"),
        "{err}"
    );
    let err = refused(&["run", "--gen", "seq:pages=10,n=10", "--scope", "local"]);
    assert!(err.contains("--scope: applies to a SCRIPT only"), "{err}");
}

#[test]
fn a_scenario_brings_its_own_machine() {
    let show = stdout_of(&["scenarios", "show", "tlb-reach"]);
    assert!(
        show.contains("// The machine it runs on (examples/scripts/tlb_reach.toml):"),
        "{show}"
    );
    assert!(show.contains("huge-pages = 8"), "{show}");
    let v = json(&["scenarios", "run", "tlb-reach", "--json"]);
    assert_eq!(v["frames"], 16384, "64 MiB from its machine file");
    assert_eq!(v["kernel"]["huge_faults"], 4);
    // `vmlab run` takes the same machine file; with the pool overridden
    // to nothing, MAP_HUGETLB is ENOMEM and the script's assertion says so.
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/scripts/tlb_reach.rhai"
    );
    let machine = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/scripts/tlb_reach.toml"
    );
    let out = stdout_of(&["run", script, "--machine", machine]);
    assert!(out.contains("process 1 ended: exit 0"), "{out}");
    // (The script's prints before the failed assertion stay on stdout.)
    let out = vmlab(&["run", script, "--machine", machine, "--huge-pages", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mmap: ENOMEM"), "{err}");
}

/// Local replacement keeps a process's pages from another's faults: a
/// parent's 40 pages, then a child streaming through 300 in 128 frames.
/// Under global LRU the child's faults take the parent's pages, which the
/// parent then faults back in; under local replacement the child, at its
/// share, evicts its own. (Tanenbaum, Modern Operating Systems, §3.5.1.)
#[test]
fn scope_local_keeps_a_process_from_taking_anothers_frames() {
    let script = machine_file(
        "scope.rhai",
        r#"let rw = PROT_READ | PROT_WRITE;
let mine = 40 * PAGE_SIZE;
let a = mmap(0, mine, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
touch(a, mine, PAGE_SIZE, true);
let child = fork(|| {
    let hog = 300 * PAGE_SIZE;
    let b = mmap(0, hog, rw, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    touch(b, hog, PAGE_SIZE, true);
    exit(0);
});
waitpid(child);
let before = counters().major_faults;
touch(a, mine, PAGE_SIZE, false);
print(`${machine().scope}: ${counters().major_faults - before}`);
"#,
    );
    let script = script.to_str().unwrap();
    let faults = |scope: &str| {
        let v = json(&["run", script, "--frames", "128", "--scope", scope, "--json"]);
        assert_eq!(v["scope"], scope);
        v["transcript"].as_str().unwrap().to_string()
    };
    assert_eq!(faults("global"), "global: 40\n");
    assert_eq!(faults("local"), "local: 0\n");
}

/// A policy's parameters ride in its name, on the flag as in a sweep's
/// list, and a bad one is refused naming the flag.
#[test]
fn policy_parameters_are_taken_and_checked() {
    let gen = "zipf:pages=2000,alpha=0.9,n=40000,seed=3";
    let faults = |policy: &str| {
        let v = json(&[
            "run", "--gen", gen, "--frames", "200", "--policy", policy, "--json",
        ]);
        assert_eq!(v["policy"], policy);
        v["faults"].as_u64().unwrap()
    };
    assert_ne!(faults("aging:bits=1"), faults("aging:bits=8"));
    assert_eq!(faults("aging"), faults("aging:bits=8:tick=1000"));
    let err = refused(&["run", "--gen", gen, "--policy", "aging:bits=99"]);
    assert!(
        err.contains("--policy: aging needs a counter of 1 to 64 bits, not 99"),
        "{err}"
    );
    let err = refused(&[
        "sweep",
        "--gen",
        gen,
        "--frames",
        "100",
        "--policies",
        "lru,lru:tick=5",
    ]);
    assert!(err.contains("lru takes no parameters"), "{err}");
}
