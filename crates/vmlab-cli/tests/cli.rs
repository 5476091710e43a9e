//! The `vmlab` binary end to end: the issue's translate examples with every
//! number checked against a hand walk, JSON output, `arch` listings, and
//! bad input (an error naming the argument, exit status 2, never a panic).

mod common;

use common::{refused, stdout_of, vmlab};

/// The text of the translation of `addr` (from its header to the next).
fn section<'a>(text: &'a str, header: &str) -> &'a str {
    let start = text.find(header).expect("section present");
    let rest = &text[start + header.len()..];
    let end = rest.find("\n\n").map_or(rest.len(), |i| i);
    &rest[..end]
}

#[test]
fn x86_64_first_access_walks_four_levels_and_second_hits_the_tlb() {
    let out = stdout_of(&[
        "translate",
        "--arch",
        "x86-64",
        "--map",
        "0x403000=0x12345000:rw",
        "0x403abc",
        "0x403010",
    ]);
    let first = section(&out, "0x403abc: user read");
    // 0x403abc: PML4 0, PDPT 0, PD 2, PT 3, offset 0xabc.
    assert!(first.contains("split: PML4 0x0 | PDPT 0x0 | PD 0x2 | PT 0x3 | offset 0xabc"));
    assert_eq!(first.matches("  walk ").count(), 4);
    // The leaf: frame 0x12345000 | P | R/W | U/S | XD (no x asked).
    assert!(first.contains("= 0x8000000012345007: 4 KiB page at 0x12345000"));
    assert!(first.contains("0x8000000012345007 -> 0x8000000012345027"));
    assert!(first.contains("=> physical 0x12345abc (4 KiB page; 4 table read(s))"));
    let second = section(&out, "0x403010: user read");
    assert!(!second.contains("walk "));
    assert!(second.contains("=> physical 0x12345010 (4 KiB page; TLB L1d hit, no walk)"));
}

#[test]
fn write_to_a_read_only_page_faults_at_the_leaf() {
    let out = stdout_of(&[
        "translate",
        "--arch",
        "x86-64",
        "--map",
        "0x403000=0x12345000:r",
        "0x403abc:w",
    ]);
    assert!(out.contains(
        "=> page fault at PT (level 3): the page does not allow this access [user write]"
    ));
    // No dirty bit may be set by a refused write.
    assert!(!out.contains("set dirty"));
}

#[test]
fn two_mib_page_at_an_aligned_address_walks_three_levels() {
    let out = stdout_of(&[
        "translate",
        "--arch",
        "x86-64",
        "--map",
        "0x7f0000200000=0x80200000:rw:2M",
        "0x7f0000212345",
    ]);
    // PS (bit 7) set in the PD entry; offset keeps 21 bits.
    assert!(out.contains("= 0x8000000080200087: 2 MiB page at 0x80200000"));
    assert!(out.contains("=> physical 0x80212345 (2 MiB page; 3 table read(s))"));
    let err = refused(&[
        "translate",
        "--map",
        "0x7f0000201000=0x80200000:rw:2M",
        "0x0",
    ]);
    assert!(err.contains("--map 0x7f0000201000=0x80200000:rw:2M"));
    assert!(err.contains("not aligned to the 2 MiB page size"));
}

#[test]
fn riscv_sv39_megapage_and_dirty_update() {
    let out = stdout_of(&[
        "translate",
        "--arch",
        "riscv-sv39",
        "--map",
        "0x40200000=0x80600000:rw:2M",
        "0x40200abc:w",
    ]);
    // VPN[2]=1, VPN[1]=1; leaf PPN 0x80600 << 10 | U W R V = 0x20180017.
    assert!(out.contains("split: level 2 0x1 | level 1 0x1 | level 0 0x0 | offset 0xabc"));
    assert!(out.contains("= 0x0000000020180017: 2 MiB page at 0x80600000"));
    // A (bit 6) and D (bit 7) set together by the store.
    assert!(out.contains("0x0000000020180017 -> 0x00000000201800d7"));
    assert!(out.contains("=> physical 0x80600abc (2 MiB page; 2 table read(s))"));
}

#[test]
fn aarch64_4k_walk_sets_the_access_flag() {
    let out = stdout_of(&[
        "translate",
        "--arch",
        "aarch64-4k",
        "--map",
        "0x400000=0x8000000:rw",
        "0x400010",
    ]);
    // Page descriptor: OA | UXN | PXN | DBM | nG | AP[2]=1 (clean) | AP[1]=1 | 0b11.
    assert!(out.contains("= 0x00680000080008c3: 4 KiB page at 0x8000000"));
    assert!(out.contains("0x00680000080008c3 -> 0x0068000008000cc3"));
    assert!(out.contains("=> physical 0x8000010 (4 KiB page; 4 table read(s))"));
}

#[test]
fn json_output_carries_split_events_and_result() {
    let out = stdout_of(&[
        "translate",
        "--json",
        "--map",
        "0x403000=0x12345000:rw",
        "0x403abc",
        "0x403010",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    let first = &doc["accesses"][0];
    assert_eq!(first["result"]["paddr"], 0x12345abc);
    assert_eq!(first["result"]["cost"]["walk_reads"], 4);
    let steps = first["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["event"] == "walk_step")
        .count();
    assert_eq!(steps, 4);
    assert_eq!(first["split"][2]["field"], "PD");
    assert_eq!(first["split"][2]["value"], 2);
    assert_eq!(doc["accesses"][1]["result"]["tlb_level"], 1);
    assert_eq!(doc["mmu"]["walks"], 1);
}

#[test]
fn the_built_in_example_runs_on_every_preset() {
    for &name in vmlab_hw::arch::presets::NAMES {
        let out = stdout_of(&["translate", "--arch", name]);
        assert_eq!(out.matches("=> physical").count(), 3, "{name}:\n{out}");
        assert_eq!(out.matches("=> page fault").count(), 1, "{name}:\n{out}");
    }
}

#[test]
fn arch_list_and_show() {
    let list = stdout_of(&["arch", "list"]);
    for name in [
        "x86-64 ",
        "riscv-sv57",
        "aarch64-64k",
        "ostep",
        "csapp",
        "silberschatz",
    ] {
        assert!(list.contains(name), "{name} listed");
    }
    let show = stdout_of(&["arch", "show", "x86-64"]);
    assert!(show.contains("bits 47..39  PML4 index (9 bits, 512 entries)"));
    assert!(show.contains("bits 29..21  PD index (9 bits, 512 entries)  a leaf here maps 2 MiB"));
    assert!(show.contains("bits 51..12  frame number"));
    assert!(show.contains("bit  63      no exec"));
    let linear = stdout_of(&["arch", "show", "linear:va=16,page=256,pa=16"]);
    assert!(linear.contains("bits 15..8   PT index (8 bits, 256 entries)"));
    let json: serde_json::Value =
        serde_json::from_str(&stdout_of(&["arch", "show", "riscv-sv39", "--json"])).expect("json");
    assert_eq!(json["va_bits"], 39);
}

#[test]
fn bad_input_names_the_argument() {
    let err = refused(&["translate", "--arch", "vax"]);
    assert!(err.contains("--arch: unknown scheme \"vax\""));
    let err = refused(&["translate", "--map", "0x403000=0x12g45000", "0x403000"]);
    assert!(err.contains("--map 0x403000=0x12g45000: physical address"));
    let err = refused(&[
        "translate",
        "--map",
        "0x403000=0x12345000",
        "0x1_0000_0000_0000",
    ]);
    assert!(err.contains("address 0x1_0000_0000_0000"));
    assert!(err.contains("48-bit virtual address space"));
    let err = refused(&["translate", "--arch", "ostep", "0x8000"]);
    assert!(err.contains("15-bit"));
    let err = refused(&["translate", "--map", "0x1000=0x2000:rq", "0x1000"]);
    assert!(err.contains("unknown permission letter 'q'"));
    let err = refused(&["translate", "--map", "0x1000=0x2000:rw:3K", "0x1000"]);
    assert!(err.contains("not a power of two"));
    let err = refused(&["translate", "--tlb", "l1d:63:4", "0x0"]);
    assert!(err.starts_with("vmlab: error: --tlb"));
    let err = refused(&["translate", "--arch", "x86-32", "--asid", "3", "0x0"]);
    assert!(err.contains("--asid"));
    let err = refused(&["translate", "0x1000:q"]);
    assert!(err.contains("unknown access kind"));
    let err = refused(&["arch", "show", "linear:va=16,page=300,pa=16"]);
    assert!(err.contains("linear:page"));
}

/// A bad entry of a `--maps` file was named `FILE: map[1]`, with no line
/// and column; it is placed at the entry's header now.
#[test]
fn a_bad_maps_entry_names_its_line() {
    let dir = std::env::temp_dir().join(format!("vmlab-maps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("maps.toml");
    std::fs::write(
        &file,
        "[[map]]\nva = 0x1000\npa = 0x2000\n\n[[map]]\nva = 0x3000\npa = 0x4000\nperms = \"rq\"\n",
    )
    .unwrap();
    let err = refused(&["translate", "--maps", file.to_str().unwrap(), "0x1000"]);
    assert!(
        err.starts_with(&format!(
            "vmlab: error: {}:5:1: map[1]: unknown permission letter 'q'",
            file.display()
        )),
        "{err}"
    );
}

#[test]
fn run_counts_a_generated_workload_in_both_models() {
    let args = |model: &str| {
        vec![
            "run",
            "--gen",
            "loop:pages=12,n=1200",
            "--frames",
            "10",
            "--policy",
            "lru",
            "--model",
            model,
            "--json",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>()
    };
    // A loop over 12 pages with 10 frames under LRU misses every time.
    for model in ["full", "replacement"] {
        let argv = args(model);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let doc: serde_json::Value = serde_json::from_str(&stdout_of(&argv)).expect("json");
        assert_eq!(doc["distinct_pages"], 12, "{model}");
        assert_eq!(doc["references"], 1200, "{model}");
        if model == "replacement" {
            assert_eq!(doc["faults"], 1200);
        } else {
            // The machine's 10 frames also hold the zero page and tables.
            assert_eq!(doc["faults"], 1200);
            assert!(doc["page_table_bytes"].as_u64().unwrap_or(0) > 0);
        }
    }
    // 8 one-byte steps stay in the first page: one fault, then TLB hits.
    let text = stdout_of(&["run", "--gen", "seq:pages=4,n=8", "--frames", "64"]);
    assert!(text.contains("references      8"));
    assert!(text.contains("faults          1 (fault rate 0.1250)"));
    assert!(text.contains("TLB hits        7"));
}

#[test]
fn run_rejects_bad_input_by_name() {
    let err = refused(&["run", "--gen", "zipf:alpha=x"]);
    assert!(err.contains("--gen: zipf:alpha=x: expected a number"));
    let err = refused(&["run", "--gen", "seq:pages=4,n=8", "--policy", "belady"]);
    assert!(err.contains("--policy: unknown replacement policy"));
    let err = refused(&["run", "--gen", "seq:pages=4,n=8", "--frames", "0"]);
    assert!(err.contains("--frames"));
    let err = refused(&["run", "--trace", "/nonexistent/trace.txt"]);
    assert!(err.contains("/nonexistent/trace.txt"));
    // A malformed line names its place; with --skip-bad-lines it is counted.
    let dir = std::env::temp_dir().join(format!("vmlab-cli-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bad.addr");
    std::fs::write(&path, "0x1000 R\n0x2000 W\nzz\n0x3000\n").expect("write trace");
    let p = path.to_str().expect("utf-8 path");
    let err = refused(&["run", "--trace", p, "--format", "addr"]);
    assert!(err.contains("bad.addr:3:1: expected an address"), "{err}");
    let out = stdout_of(&[
        "run",
        "--trace",
        p,
        "--format",
        "addr",
        "--skip-bad-lines",
        "--model",
        "replacement",
    ]);
    assert!(out.contains("references      3"), "{out}");
    assert!(out.contains("skipped lines   1 (malformed)"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Regression: a machine far larger than the host aborted the program
/// ("memory allocation of 32000000000 bytes failed", a signal, no flag
/// named) or thrashed for half a minute first; it is refused up front,
/// with its projected size, in every command that builds one.
#[test]
fn machines_larger_than_the_host_are_refused_by_name() {
    let gen = ["--gen", "seq:pages=4,n=8"];
    let huge = ["--frames", "4000000000", "--policy", "arc"];
    for model in ["replacement", "full"] {
        let mut run = vec!["run", "--model", model];
        run.extend(gen);
        run.extend(huge);
        let err = refused(&run);
        let expected =
            format!("--frames: 4000000000 frames of the {model} model with arc would take about ");
        assert!(err.contains(&expected), "{err}");
        assert!(err.contains("of memory this process may use"), "{err}");
    }
    let err = refused(&["run", "--scenario", "cow", "--mem", "8T"]);
    assert!(
        err.contains("--mem: 2147483648 frames of the full model with lru would take about"),
        "{err}"
    );
    let err = refused(&["explain", "--gen", "seq:pages=4,n=8", "--mem", "8T"]);
    assert!(
        err.contains("--mem: 2147483648 frames of the full model with lru"),
        "{err}"
    );
    let mut sweep = vec![
        "sweep",
        "--frames",
        "64,4000000000",
        "--policies",
        "lru,arc",
    ];
    sweep.extend(gen);
    let err = refused(&sweep);
    assert!(
        err.contains("--frames/--mem: 4000000000 frames of the full model with lru"),
        "{err}"
    );
}

/// A fresh directory for one test's files.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vmlab-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

const SWEEP_GEN: &str = "zipf:pages=300,alpha=0.9,n=5000,write=0.2,seed=3";

#[test]
fn sweep_rows_equal_each_configuration_run_alone() {
    let doc: serde_json::Value = serde_json::from_str(&stdout_of(&[
        "sweep",
        "--gen",
        SWEEP_GEN,
        "--policies",
        "lru,clock,s3-fifo",
        "--frames",
        "20..60:20",
        "--model",
        "full,replacement",
        "--json",
    ]))
    .expect("json");
    let rows = doc.as_array().expect("an array of rows");
    assert_eq!(rows.len(), 2 * 3 * 3);
    for row in rows {
        let frames = row["frames"].to_string();
        let alone: serde_json::Value = serde_json::from_str(&stdout_of(&[
            "run",
            "--gen",
            SWEEP_GEN,
            "--policy",
            row["policy"].as_str().expect("policy"),
            "--frames",
            &frames,
            "--model",
            row["model"].as_str().expect("model"),
            "--json",
        ]))
        .expect("json");
        for counter in [
            "references",
            "distinct_pages",
            "faults",
            "fault_rate",
            "evictions",
            "write_backs",
            "tlb_hits",
            "walks",
            "page_table_bytes",
        ] {
            assert_eq!(row[counter], alone[counter], "{counter} of {row}");
        }
    }
}

/// `--jobs N` runs at most N configurations at a time, shared readings
/// included, with the same rows; N must be a positive count.
#[test]
fn sweep_jobs_change_how_many_run_at_once_not_the_rows() {
    // The rows, and the line that says how many ran at a time.
    let sweep = |jobs: &[&str]| -> (String, String) {
        let mut args = vec![
            "sweep",
            "--gen",
            SWEEP_GEN,
            "--policies",
            "lru,arc",
            "--frames",
            "20,40",
            "--csv",
            "-",
        ];
        args.extend(jobs);
        let out = vmlab(&args);
        assert!(out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().last().unwrap_or_default().to_string();
        (String::from_utf8(out.stdout).expect("utf-8"), last)
    };
    // A generator's four configurations of one page size share a reading.
    let (all, said) = sweep(&[]);
    assert!(said.ends_with(" s, 4 configurations at a time"), "{said}");
    let (one, said) = sweep(&["--jobs", "1"]);
    assert_eq!(one, all);
    assert!(said.ends_with(" s, one configuration at a time"), "{said}");
    let (three, said) = sweep(&["-j", "3"]);
    assert_eq!(three, all);
    assert!(said.ends_with(" s, 3 configurations at a time"), "{said}");
    for bad in ["0", "-1", "many", "1025"] {
        let jobs = format!("--jobs={bad}");
        let err = refused(&["sweep", "--gen", SWEEP_GEN, "--frames", "20", &jobs]);
        assert!(err.contains("--jobs"), "{bad}: {err}");
    }
}

/// `vmlab sweep SCRIPT`: each row counts what `vmlab run SCRIPT` counts on
/// the same machine; what a script cannot be swept with is refused by
/// name.
#[test]
fn a_script_sweep_counts_what_each_run_of_the_script_counts() {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/scripts/thrashing.rhai"
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout_of(&[
        "sweep",
        script,
        "--policies",
        "lru,clock",
        "--frames",
        "64,256",
        "--json",
    ]))
    .expect("json");
    let rows = doc.as_array().expect("an array of rows");
    assert_eq!(rows.len(), 4);
    for row in rows {
        let frames = row["frames"].to_string();
        let policy = row["policy"].as_str().expect("policy");
        let alone: serde_json::Value = serde_json::from_str(&stdout_of(&[
            "run", script, "--policy", policy, "--frames", &frames, "--json",
        ]))
        .expect("json");
        let (k, mmu) = (&alone["kernel"], &alone["mmu"]);
        let count = |v: &serde_json::Value| v.as_u64().expect("a count");
        let what = format!("{row}");
        assert_eq!(row["references"], k["references"], "{what}");
        let faults = count(&k["minor_faults"]) + count(&k["major_faults"]);
        assert_eq!(count(&row["faults"]), faults, "{what}");
        assert!(faults > 0, "{what}");
        assert_eq!(row["evictions"], k["evictions"], "{what}");
        let written = count(&k["write_backs"]) + count(&k["swap_outs"]);
        assert_eq!(count(&row["write_backs"]), written, "{what}");
        assert_eq!(row["tlb_hits"], mmu["tlb_hits"], "{what}");
        assert_eq!(row["walks"], mmu["walks"], "{what}");
        let rate = count(&mmu["tlb_hits"]) as f64 / count(&mmu["accesses"]) as f64;
        assert_eq!(row["tlb_hit_rate"].as_f64(), Some(rate), "{what}");
        assert!(row["distinct_pages"].is_null() && row["page_table_bytes"].is_null());
    }
    // Fewer frames fault more: the sweep is not one run repeated.
    assert!(rows[0]["faults"] != rows[1]["faults"]);
    let refused_with = |args: &[&str], want: &str| {
        let err = refused(args);
        assert!(err.contains(want), "{args:?}: {err}");
    };
    refused_with(
        &["sweep", script, "--frames", "64", "--model", "replacement"],
        "--model: a script runs as a process on the whole machine",
    );
    refused_with(
        &["sweep", script, "--frames", "64", "--policies", "lru,opt"],
        "--policies: opt needs every reference of the workload before it runs",
    );
    refused_with(
        &["sweep", script, "--frames", "64", "--mrc", "exact"],
        "--mrc",
    );
    refused_with(
        &["sweep", "--frames", "64"],
        "expected SCRIPT, --scenario NAME, --gen SPEC or --trace FILE",
    );
    let dir = scratch("script-sweep");
    let exits = dir.join("exits.rhai");
    std::fs::write(&exits, "let pages = 1;\nexit(3);\n").expect("write script");
    let exits = exits.to_str().expect("utf-8 path");
    refused_with(
        &["sweep", exits, "--frames", "64"],
        "policy=lru frames=64: ",
    );
    refused_with(
        &["sweep", exits, "--frames", "64"],
        "the script's process ended: exit 3",
    );
    // A script's assertions are about the machine it was written for: on
    // the others a sweep counts them, says where the first failed, and
    // goes on, so the row counts the whole run. The checks below fail at
    // 64 frames only; the row equals that of the script without them.
    let work = "let a = mmap(0, 64 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);\ntouch(a, 64 * PAGE_SIZE, PAGE_SIZE, true);\n";
    let checked = dir.join("checked.rhai");
    let checks = "let small = machine().frames < 100;\nassert(!small, \"room\");\nassert_eq(small, false);\n";
    std::fs::write(&checked, format!("{checks}{work}")).expect("write script");
    let unchecked = dir.join("unchecked.rhai");
    std::fs::write(&unchecked, work).expect("write script");
    let (checked, unchecked) = (
        checked.to_str().expect("utf-8 path"),
        unchecked.to_str().expect("utf-8 path"),
    );
    let out = vmlab(&["sweep", checked, "--frames", "64,128", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "policy=lru frames=64: {checked}:2:1: assertion failed: room (1 more failed); the run went on"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("frames=128"), "{stderr}");
    let rows = |out: &[u8]| -> serde_json::Value { serde_json::from_slice(out).expect("json") };
    let without = stdout_of(&["sweep", unchecked, "--frames", "64,128", "--json"]);
    assert_eq!(rows(&out.stdout), rows(without.as_bytes()));
    // A check that guarded what came next is named where the run then
    // fails: here the process exits 1 after it.
    let guarded = dir.join("guarded.rhai");
    std::fs::write(
        &guarded,
        "assert(machine().frames > 100, \"room\");\nexit(1);\n",
    )
    .expect("write script");
    let guarded = guarded.to_str().expect("utf-8 path");
    refused_with(
        &["sweep", guarded, "--frames", "64"],
        &format!("exit 1 (a sweep's script must end with exit 0); before that, {guarded}:1:1: assertion failed: room"),
    );
    // vmlab run, like `vmlab scenarios run`, still stops at a failed check.
    let err = refused(&["run", checked, "--frames", "64"]);
    assert!(
        err.contains(&format!("{checked}:2:1: assertion failed: room")),
        "{err}"
    );
    // A machine file gives what the sweep does not vary (here the policy,
    // as no --policies is given, and swap), as it does to vmlab run.
    let machine = dir.join("m.toml");
    std::fs::write(&machine, "policy = \"clock\"\nswap = \"256KiB\"\n").expect("write file");
    let machine = machine.to_str().expect("utf-8 path");
    let on_the_file = |command: &str| -> serde_json::Value {
        let args = [
            command,
            script,
            "--machine",
            machine,
            "--frames",
            "64",
            "--json",
        ];
        serde_json::from_str(&stdout_of(&args)).expect("json")
    };
    let (swept, alone) = (on_the_file("sweep"), on_the_file("run"));
    assert_eq!(swept[0]["policy"], "clock");
    assert_eq!(alone["swap_slots"], 64);
    let kernel = |key: &str| alone["kernel"][key].as_u64().expect("a count");
    assert_eq!(
        swept[0]["faults"].as_u64(),
        Some(kernel("minor_faults") + kernel("major_faults"))
    );
    // xv6 gives the stack a fixed page: the stack-growth scenario's first
    // process is killed there (exit -1), which a sweep refuses.
    let xv6 = dir.join("xv6.toml");
    std::fs::write(&xv6, "personality = \"xv6\"\n").expect("write file");
    let growth = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/scripts/stack_growth.rhai"
    );
    stdout_of(&["sweep", growth, "--frames", "256"]);
    refused_with(
        &[
            "sweep",
            growth,
            "--frames",
            "256",
            "--machine",
            xv6.to_str().expect("utf-8"),
        ],
        "the script's process ended: exit -1",
    );
    // A built-in scenario runs on its own machine's settings: its rows
    // are vmlab run --scenario's.
    let swept: serde_json::Value = serde_json::from_str(&stdout_of(&[
        "sweep",
        "--scenario",
        "thrashing",
        "--policies",
        "fifo",
        "--frames",
        "128",
        "--json",
    ]))
    .expect("json");
    let alone: serde_json::Value = serde_json::from_str(&stdout_of(&[
        "run",
        "--scenario",
        "thrashing",
        "--policy",
        "fifo",
        "--frames",
        "128",
        "--json",
    ]))
    .expect("json");
    assert_eq!(swept[0]["references"], alone["kernel"]["references"]);
    assert_eq!(swept[0]["evictions"], alone["kernel"]["evictions"]);
    refused_with(
        &[
            "sweep",
            "--gen",
            "loop:pages=4,n=8",
            "--frames",
            "8",
            "--machine",
            machine,
        ],
        "--machine",
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn sweep_csv_file_matches_standard_output_and_replots() {
    let dir = scratch("sweep-csv");
    let csv = dir.join("r.csv");
    let svg = dir.join("r.svg");
    let common = [
        "sweep",
        "--gen",
        SWEEP_GEN,
        "--policies",
        "lru,fifo",
        "--mem",
        "64K,128K",
        "--model",
        "replacement",
    ];
    let mut to_file: Vec<&str> = common.to_vec();
    to_file.extend([
        "--csv",
        csv.to_str().expect("utf-8"),
        "--plot",
        svg.to_str().expect("utf-8"),
    ]);
    let out = vmlab(&to_file);
    assert!(out.status.success());
    // Standard error is not a terminal here: no progress bar.
    assert!(!String::from_utf8_lossy(&out.stderr).contains('\r'));
    let mut to_stdout: Vec<&str> = common.to_vec();
    to_stdout.extend(["--csv", "-"]);
    let text = std::fs::read_to_string(&csv).expect("csv written");
    assert_eq!(text, stdout_of(&to_stdout));
    assert!(text.starts_with("arch,page_bytes,tlb,tlb_entries,model,policy,frames,mem_bytes,"));
    assert_eq!(text.lines().count(), 1 + 4);
    assert!(text.contains("\nx86-64,4096,-,,replacement,lru,16,65536,5000,"));
    let drawn = std::fs::read_to_string(&svg).expect("svg written");
    for label in [
        "physical memory (KiB)",
        "fault rate (faults per reference)",
        "\nfifo\n",
    ] {
        assert!(drawn.contains(label), "{label}");
    }
    // Re-plotting the saved table draws the same picture.
    let again = dir.join("again.svg");
    stdout_of(&[
        "plot",
        csv.to_str().expect("utf-8"),
        "-o",
        again.to_str().expect("utf-8"),
    ]);
    assert_eq!(std::fs::read_to_string(&again).expect("replot"), drawn);
    // PNG by extension, default output name beside the input.
    stdout_of(&["plot", csv.to_str().expect("utf-8")]);
    assert!(dir.join("r.svg").exists());
    let png = dir.join("r.png");
    stdout_of(&[
        "plot",
        csv.to_str().expect("utf-8"),
        "-o",
        png.to_str().expect("utf-8"),
    ]);
    assert!(std::fs::read(&png)
        .expect("png")
        .starts_with(b"\x89PNG\r\n\x1a\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sweep_mrc_equals_simulated_lru() {
    let common = [
        "sweep",
        "--gen",
        SWEEP_GEN,
        "--frames",
        "1,10..300:*3,1000",
        "--csv",
        "-",
    ];
    let mut mrc = common.to_vec();
    mrc.extend(["--mrc", "exact"]);
    let mut sim = common.to_vec();
    sim.extend(["--model", "replacement"]);
    let faults = |text: String| -> Vec<String> {
        text.lines()
            .skip(1)
            .map(|l| l.split(',').nth(10).expect("faults").to_string())
            .collect()
    };
    let (mrc, sim) = (faults(stdout_of(&mrc)), faults(stdout_of(&sim)));
    assert_eq!(mrc.len(), 6);
    assert_eq!(mrc, sim);
}

#[test]
fn sweep_and_plot_reject_bad_input_by_name() {
    let base = ["sweep", "--gen", "seq:pages=4,n=8"];
    let with = |more: &[&str]| {
        let mut v = base.to_vec();
        v.extend(more);
        refused(&v)
    };
    assert!(with(&["--frames", "10..1:1"])
        .contains("--frames: range \"10..1:1\": its start is past its end"));
    assert!(with(&["--frames", "4", "--policies", "lru,belady"]).contains("--policies: \"belady\""));
    assert!(with(&["--frames", "4", "--tlb", "l1d:x"]).contains("--tlb: \"l1d:x\" on x86-64"));
    assert!(with(&["--frames", "4", "--mrc", "shards:rate=2"]).contains("--mrc: "));
    assert!(with(&["--mem", "1K"])
        .contains("--frames/--mem: on x86-64: 1024 bytes is less than one 4096-byte page"));
    assert!(with(&["--frames", "4", "--arch", "vax"]).contains("--arch: unknown scheme \"vax\""));
    // --mrc computes LRU only: asking for policies too is a usage error.
    with(&["--frames", "4", "--mrc", "exact", "--policies", "fifo"]);
    let dir = scratch("plot-bad");
    let pdf = dir.join("p.pdf");
    let e = with(&["--frames", "16", "--plot", pdf.to_str().expect("utf-8")]);
    assert!(
        e.contains("expected a file name ending in .svg or .png"),
        "{e}"
    );
    assert!(!pdf.exists());
    // A saved table with a bad cell names its file, line and column.
    let csv = dir.join("bad.csv");
    let good = stdout_of(&[
        "sweep",
        "--gen",
        "seq:pages=4,n=8",
        "--frames",
        "16,32",
        "--csv",
        "-",
    ]);
    let mut lines: Vec<String> = good.lines().map(String::from).collect();
    lines[2] = lines[2].replacen(",32,", ",thirty-two,", 1);
    std::fs::write(&csv, lines.join("\n")).expect("write csv");
    let e = refused(&["plot", csv.to_str().expect("utf-8")]);
    assert!(e.contains("bad.csv:3:"), "{e}");
    assert!(
        e.contains("column frames: expected a whole number, found \"thirty-two\""),
        "{e}"
    );
    std::fs::write(&csv, "when,what\n1,2\n").expect("write csv");
    let e = refused(&["plot", csv.to_str().expect("utf-8")]);
    assert!(
        e.contains("bad.csv:1:1: expected the columns of a sweep"),
        "{e}"
    );
    let e = refused(&["plot", "/nonexistent/r.csv"]);
    assert!(e.contains("/nonexistent/r.csv: cannot read"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plot_draws_a_time_series_csv() {
    let dir = scratch("plot-ts");
    let csv = dir.join("rss.csv");
    std::fs::write(&csv, "references,resident_pages\n0,0\n1000,40\n2000,64\n").expect("write");
    let svg = dir.join("rss.svg");
    stdout_of(&[
        "plot",
        csv.to_str().expect("utf-8"),
        "-o",
        svg.to_str().expect("utf-8"),
    ]);
    let drawn = std::fs::read_to_string(&svg).expect("svg");
    assert!(drawn.contains("\nreferences\n"));
    assert!(drawn.contains("\nresident_pages\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `vmlab run --csv` writes one row per interval (a loop of 120 pages in
/// 100 frames under LRU faults on every reference once warm), whole and
/// re-plottable; a bad interval or an unwritable file is refused by name
/// and leaves no file.
#[test]
fn run_writes_a_time_series_csv() {
    let dir = scratch("run-series");
    let csv = dir.join("series.csv");
    let csv_arg = csv.to_str().expect("utf-8");
    let common = [
        "run",
        "--gen",
        "loop:pages=120,n=1050",
        "--frames",
        "100",
        "--model",
        "replacement",
        "--csv",
        csv_arg,
        "--every",
        "200",
    ];
    stdout_of(&common);
    let text = std::fs::read_to_string(&csv).expect("csv written");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "references,faults,interval_fault_rate,resident_pages,evictions,write_backs,interval_tlb_hit_rate"
    );
    assert_eq!(lines.len(), 7, "{text}");
    assert_eq!(lines[2], "400,400,1.000000,100,300,0,");
    assert!(lines[6].starts_with("1050,1050,"), "{text}");
    assert_eq!(
        std::fs::read_dir(&dir).expect("dir").count(),
        1,
        "no temporary left"
    );
    let svg = dir.join("series.svg");
    stdout_of(&["plot", csv_arg, "-o", svg.to_str().expect("utf-8")]);
    assert!(std::fs::read_to_string(&svg)
        .expect("svg")
        .contains("resident_pages"));

    let mut zero = common.to_vec();
    zero[10] = "0";
    assert!(refused(&zero).contains("--every"));
    let missing = dir.join("no").join("series.csv");
    let mut unwritable = common.to_vec();
    unwritable[8] = missing.to_str().expect("utf-8");
    let err = refused(&unwritable);
    assert!(err.contains("--csv") && err.contains("series.csv"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `vmlab run` with no workload is the tour: one experiment per question,
/// its numbers worked out by hand here (3 writes: 1000 lines of about
/// 9 bytes fill the 4 KiB buffer twice, exit flushes the rest; 134 system
/// calls: open, mmap of the buffer, and twice an lseek and 65 reads of
/// 64 pages); machine flags without a workload are refused, not ignored.
#[test]
fn run_without_a_workload_gives_the_tour() {
    let out = stdout_of(&["run"]);
    for expected in [
        "1. Why virtual memory",
        "1024 of 1024 read back intact",
        "16 pages copied on write",
        "the parent's data is untouched",
        "2. Paging vs segmentation",
        "3. Memory-mapped files",
        "read(2):  134 system calls, 512 KiB copied",
        "mmap(2):  2 system calls, 0 KiB copied, 64 page faults",
        "4. System calls vs library functions",
        "1000 printf calls to a file      : 3 write system calls",
        "1000 printf calls to the terminal: 1000 write system calls",
        "1 brk and 1 mmap system calls",
    ] {
        assert!(out.contains(expected), "{expected:?} missing from:\n{out}");
    }
    let err = refused(&["run", "--frames", "10"]);
    assert!(
        err.contains("expected SCRIPT, --gen SPEC or --trace FILE"),
        "{err}"
    );
}

/// A script file in the test's temporary directory.
fn script_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vmlab-cli-scripts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("script written");
    path
}

const COW_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/scripts/cow.rhai"
);

#[test]
fn run_script_prints_its_transcript_and_the_counters() {
    let out = stdout_of(&["run", COW_SCRIPT]);
    assert!(
        out.starts_with("parent 1: 64 pages filled with 0x11\nchild 2: wrote 8 pages, 8 copies\n")
    );
    assert!(out.contains(
        "machine: x86-64, 1024 frames, lru replacement (global), 1024 swap slots, linux rules"
    ));
    assert!(out.contains("process 1 ended: exit 0\n"));
    // 8 pages copied by the child, and its print (printf to stdout)
    // copied the stdout buffer it shared with the parent and the page of
    // the library's data holding the stream.
    assert!(
        out.contains("copy-on-write   10 copies, 66 reuses\n"),
        "{out}"
    );
    // Three prints (printf), fork, wait, and both processes' exit(3).
    assert!(out.contains("library calls   7, "), "{out}");
    assert!(out.contains(" us user, "), "{out}");
}

#[test]
fn run_script_as_json() {
    let out = stdout_of(&["run", COW_SCRIPT, "--json", "--frames", "512"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["status"], "process 1 ended: exit 0");
    assert_eq!(v["frames"], 512);
    assert_eq!(v["kernel"]["cow_copies"], 10);
    assert!(v["transcript"].as_str().unwrap().contains("8 copies"));
    assert_eq!(v["library_calls"]["printf"], 3);
    assert_eq!(v["library_calls"]["fork"], 1);
    assert_eq!(v["system_calls"]["wait4"], 1);
    assert!(v["time"]["kernel_ns"].as_f64().unwrap() > 0.0);
}

#[test]
fn run_script_takes_the_personality_and_swap_flags() {
    let stack = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/scripts/stack_growth.rhai"
    );
    // Pintos grows the stack only near the stack pointer: the store 40
    // pages down kills the process with exit status -1.
    let out = stdout_of(&["run", stack, "--personality", "pintos"]);
    assert!(out.contains("pintos rules"));
    assert!(out.contains("process 1 ended: exit -1\n"), "{out}");
    let out = stdout_of(&["run", COW_SCRIPT, "--swap", "64MiB", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["swap_slots"], 16384);
    assert_eq!(v["personality"], "linux");
}

#[test]
fn a_bad_script_is_refused_with_its_line_and_column() {
    let failing = script_file("failing.rhai", "let a = 1;\n  assert_eq(a, 2);\n");
    let err = refused(&["run", failing.to_str().unwrap()]);
    assert_eq!(
        err,
        format!(
            "vmlab: error: {}:2:3: assertion failed: left == right (left: 1, right: 2)\n",
            failing.display()
        )
    );
    let broken = script_file("broken.rhai", "let a = ;\n");
    let err = refused(&["run", broken.to_str().unwrap()]);
    assert!(
        err.starts_with(&format!("vmlab: error: {}:1:", broken.display())),
        "{err}"
    );
    let err = refused(&["run", "/nonexistent/script.rhai"]);
    assert!(
        err.contains("/nonexistent/script.rhai: cannot read the script"),
        "{err}"
    );
}

#[test]
fn script_flags_are_checked() {
    let err = refused(&["run", COW_SCRIPT, "--swap", "3K"]);
    assert!(err.contains("--swap"), "{err}");
    let err = refused(&["run", COW_SCRIPT, "--swap", "1K"]);
    assert!(
        err.contains("--swap: 1024 bytes is less than one page"),
        "{err}"
    );
    let err = refused(&["run", "--gen", "seq:pages=10,n=10", "--personality", "xv6"]);
    assert!(
        err.contains("--personality: applies to a SCRIPT only"),
        "{err}"
    );
    let err = refused(&["run", "--gen", "seq:pages=10,n=10", "--swap", "1M"]);
    assert!(err.contains("--swap: applies to a SCRIPT only"), "{err}");
    let err = refused(&["run", COW_SCRIPT, "--model", "replacement"]);
    assert!(err.contains("--model"), "{err}");
    let err = refused(&["run", COW_SCRIPT, "--gen", "seq:pages=10,n=10"]);
    assert!(err.contains("--gen"), "{err}");
}

/// The scenario library: `list` names every scenario with its first
/// sentence, `show` prints the explanation and the script, and `run`
/// runs each one with its assertions (a failed assertion would exit 2),
/// so every scenario is checked here; an unknown name is refused by name.
#[test]
fn every_built_in_scenario_runs_with_its_assertions() {
    let list = stdout_of(&["scenarios", "list"]);
    let names: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    // Every example script is in the library, under its name with dashes.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/scripts");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .expect("examples/scripts")
        .filter_map(|e| {
            let path = e.expect("entry").path();
            (path.extension()? == "rhai")
                .then(|| path.file_stem()?.to_str().map(|s| s.replace('_', "-")))?
        })
        .collect();
    files.sort();
    assert_eq!(names, files);
    let show = stdout_of(&["scenarios", "show", "cow"]);
    assert!(show.starts_with("Copy-on-write fork:"), "{show}");
    assert!(show.contains("let pages = 64;"), "{show}");
    for name in names {
        let out = stdout_of(&["scenarios", "run", name]);
        assert!(
            out.contains(&format!("vmlab run: scenario {name}")),
            "{out}"
        );
        assert!(out.contains("process 1 ended: exit 0"), "{name}: {out}");
    }
    let err = refused(&["scenarios", "run", "no-such-scenario"]);
    assert!(
        err.contains("scenario: expected one of belady, cow"),
        "{err}"
    );
}

#[test]
fn a_generated_trace_replays_exactly_as_its_generator_runs() {
    let dir = scratch("generate");
    let spec = "zipf:pages=500,alpha=0.9,n=20000,write=0.3,seed=7";
    let run_json = |source: &[&str]| -> serde_json::Value {
        let mut argv = vec!["run"];
        argv.extend_from_slice(source);
        argv.extend_from_slice(&["--frames", "50", "--policy", "clock", "--json"]);
        let mut doc: serde_json::Value = serde_json::from_str(&stdout_of(&argv)).expect("json");
        doc.as_object_mut().expect("object").remove("seconds");
        doc
    };
    let expected = run_json(&["--gen", spec]);
    for name in ["zipf.vmt", "zipf.vmt.zst"] {
        let path = dir.join(name);
        let p = path.to_str().expect("utf-8 path");
        stdout_of(&["generate", spec, "-o", p]);
        let bytes = std::fs::read(&path).expect("trace written");
        // The zstd frame magic (RFC 8878) exactly when the name asks for it.
        assert_eq!(
            bytes.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]),
            name.ends_with(".zst")
        );
        assert_eq!(run_json(&["--trace", p]), expected, "{name}");
    }
    // A bad spec names the argument and leaves no file behind.
    let bad = dir.join("bad.vmt");
    let err = refused(&[
        "generate",
        "zipf:pages=10",
        "-o",
        bad.to_str().expect("utf-8"),
    ]);
    assert!(
        err.contains("SPEC: zipf:pages=10: expected the key alpha"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_scenario_uses_its_machine_file_under_the_flags() {
    // tlb-reach brings a 64 MiB machine with 8 huge pages; on the default
    // 4 MiB machine its 4 KiB half would not fit.
    let doc: serde_json::Value =
        serde_json::from_str(&stdout_of(&["run", "--scenario", "tlb-reach", "--json"]))
            .expect("json");
    assert_eq!(doc["frames"], 16384, "{doc}");
    // A flag still wins over the scenario's machine file.
    let doc: serde_json::Value = serde_json::from_str(&stdout_of(&[
        "run",
        "--scenario",
        "cow",
        "--policy",
        "clock",
        "--json",
    ]))
    .expect("json");
    assert_eq!(doc["policy"], "clock");
    let err = refused(&["run", "--scenario", "no-such-scenario"]);
    assert!(err.contains("expected one of belady, cow"), "{err}");
    let err = refused(&["run", "--scenario", "cow", "--gen", "seq:pages=1,n=1"]);
    assert!(err.contains("--gen"), "{err}");
}

#[test]
fn every_command_help_has_examples() {
    let commands: &[&[&str]] = &[
        &[],
        &["translate"],
        &["run"],
        &["explain"],
        &["compare"],
        &["generate"],
        &["record"],
        &["sweep"],
        &["plot"],
        &["arch"],
        &["arch", "list"],
        &["arch", "show"],
        &["scenarios"],
        &["scenarios", "list"],
        &["scenarios", "show"],
        &["scenarios", "run"],
    ];
    for command in commands {
        let mut argv = command.to_vec();
        argv.push("--help");
        let help = stdout_of(&argv);
        assert!(
            help.contains("Examples:\n  vmlab"),
            "vmlab {command:?} --help: {help}"
        );
    }
}

/// A generator on a teaching scheme failed at its first record with
/// "outside its user address space" and nothing to act on: its default
/// base (0x10000000) lies beyond a 16-bit space. The error names the
/// scheme's span and the generator keys that move the pages, and the same
/// generator with them set runs.
#[test]
fn generator_outside_a_teaching_scheme_names_the_span_and_its_keys() {
    let e = refused(&[
        "run",
        "--gen",
        "loop:pages=10,n=100",
        "--arch",
        "silberschatz",
        "--frames",
        "32",
    ]);
    assert!(
        e.contains("outside its user address space 0x100..0x10000")
            && e.contains(
                "the generator's keys base= (default 0x10000000) and page= (default 4096)"
            ),
        "{e}"
    );
    let out = stdout_of(&[
        "run",
        "--gen",
        "loop:pages=10,n=100,base=0x1000,page=256",
        "--arch",
        "silberschatz",
        "--frames",
        "32",
    ]);
    assert!(out.contains("distinct pages  10"), "{out}");
}

/// Memory too small for a process's page tables said "cannot create the
/// process: ENOMEM", naming no flag; an out-of-memory kill is not a
/// generator's placement and gets no hint about its keys.
#[test]
fn memory_too_small_for_the_page_tables_names_frames() {
    let gen = "loop:pages=10,n=100,base=0x400,page=64";
    let e = refused(&["run", "--gen", gen, "--arch", "csapp", "--frames", "8"]);
    assert!(
        e.starts_with("vmlab: error: --frames: 8 frames of 64 bytes cannot hold a process's page tables on csapp"),
        "{e}"
    );
    let e = refused(&["run", "--gen", gen, "--arch", "csapp", "--frames", "9"]);
    assert!(
        e.contains("out-of-memory killer") && !e.contains("base="),
        "{e}"
    );
}

/// A linear scheme of four 256-byte pages could not create a process: the
/// stack guard gap (a sixteenth of the space, 64 bytes) was not a whole
/// page. It is rounded down to pages now (none here).
#[test]
fn tiny_linear_scheme_runs_a_process() {
    let out = stdout_of(&[
        "run",
        "--gen",
        "loop:pages=2,n=100,base=0x100,page=256",
        "--arch",
        "linear:va=10,page=256,pa=16",
        "--frames",
        "100",
    ]);
    assert!(out.contains("faults          2 "), "{out}");
}
