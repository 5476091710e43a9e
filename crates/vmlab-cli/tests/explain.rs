//! `vmlab explain` end to end: hand-worked evictions under FIFO, LRU and
//! Clock on a tiny machine (which victim, and the policy's reason), the
//! window (`--from`, `--count`) in text and JSON, the JSON lines against
//! the documented schema (docs/explain-events.md, which must name every
//! event kind the code has), bad flags, and snapshots of the text output
//! of `vmlab explain` and `vmlab run` for small inputs.
#![allow(clippy::unwrap_used)]

mod common;

use common::{refused, stdout_of};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A trace file of page references A B C A D (pages 0, 1, 2, 0, 3 at
/// 0x10000000), the textbook case where FIFO and LRU disagree. A file of
/// its own per call: tests run in parallel, and one rewriting a shared
/// file while another reads it once gave the reader an empty trace.
fn abcad_trace() -> PathBuf {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("vmlab-explain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!(
        "abcad-{}.txt",
        CALLS.fetch_add(1, Ordering::Relaxed)
    ));
    let text = "0x10000000\n0x10001000\n0x10002000\n0x10000000\n0x10003000\n";
    std::fs::write(&path, text).unwrap();
    path
}

/// `vmlab explain` of the A B C A D trace on x86-64 with 8 frames: the
/// zero page and four tables leave three frames for pages.
fn explain_abcad(policy: &str, extra: &[&str]) -> String {
    let trace = abcad_trace();
    let mut args = vec![
        "explain",
        "--trace",
        trace.to_str().unwrap(),
        "--format",
        "addr",
        "--frames",
        "8",
        "--policy",
        policy,
    ];
    if !extra.contains(&"--count") {
        args.extend_from_slice(&["--count", "1000"]);
    }
    args.extend_from_slice(extra);
    stdout_of(&args)
}

/// The eviction lines of a text explanation.
fn evictions(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.contains("evict frame")).collect()
}

#[test]
fn fifo_evicts_the_page_loaded_first() {
    let text = explain_abcad("fifo", &[]);
    let ev = evictions(&text);
    assert_eq!(ev.len(), 1, "{text}");
    // A (page 0x10000) was loaded first, even though it was used again.
    assert!(ev[0].contains("pid 1 page 0x10000;"), "{}", ev[0]);
    assert!(
        ev[0].contains("fifo chose it: oldest resident"),
        "{}",
        ev[0]
    );
}

#[test]
fn lru_evicts_the_page_used_longest_ago() {
    let text = explain_abcad("lru", &[]);
    let ev = evictions(&text);
    assert_eq!(ev.len(), 1, "{text}");
    // A was used again at the fourth reference: B (0x10001) is least recent.
    assert!(ev[0].contains("pid 1 page 0x10001;"), "{}", ev[0]);
    assert!(
        ev[0].contains("lru chose it: least recently used"),
        "{}",
        ev[0]
    );
}

#[test]
fn clock_clears_every_referenced_bit_then_takes_the_first_frame() {
    let text = explain_abcad("clock", &[]);
    let ev = evictions(&text);
    assert_eq!(ev.len(), 1, "{text}");
    // All three pages were referenced: the hand clears three bits, comes
    // round to A's frame and takes it.
    assert!(ev[0].contains("pid 1 page 0x10000;"), "{}", ev[0]);
    assert!(
        ev[0].contains("after clearing 3 referenced bit(s)"),
        "{}",
        ev[0]
    );
    // Clearing a bit invalidates the cached translation.
    assert!(text.contains("TLB shootdown: pid 1's cached translation of 0x10001000"));
}

#[test]
fn a_first_touch_reads_the_page_in_and_the_walk_is_told_step_by_step() {
    let text = explain_abcad("fifo", &["--count", "12"]);
    let lines: Vec<&str> = text.lines().collect();
    // Heading, then events 1 to 12, then the note.
    assert_eq!(lines.len(), 2 + 12 + 1, "{text}");
    assert!(lines[2].trim_start().starts_with("1  pid 1"));
    assert!(text.contains("user read at 0x10000000"));
    assert!(text.contains("walk PML4[0x0]"), "{text}");
    assert!(text.contains("not present"));
    assert!(text.contains(
        "page fault on a read at 0x10000000: the entry is not present; in the backed region"
    ));
    assert!(text.contains("resolved: page 0x10000000 read in from the backing store"));
    assert!(
        lines[14].contains("more events follow: add --from 13"),
        "{text}"
    );
}

#[test]
fn the_window_shows_the_same_events_in_text_and_json() {
    let all = explain_abcad("lru", &[]);
    let window = explain_abcad("lru", &["--from", "5", "--count", "3"]);
    let numbered = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with(' ') && !l.starts_with("..."))
            .map(str::to_string)
            .collect()
    };
    let all_lines = numbered(&all);
    assert_eq!(numbered(&window), all_lines[4..7].to_vec());
    assert!(window.contains("more events follow: add --from 8"));
    let json = explain_abcad("lru", &["--from", "5", "--count", "3", "--json"]);
    let seqs: Vec<u64> = json
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, [5, 6, 7]);
    // Past the end: said so, not an empty success.
    let past = explain_abcad("lru", &["--from", "100000"]);
    assert!(past.contains("the run has only"), "{past}");
    assert!(all.contains("end of the run:"));
}

/// The documented fields of each event kind: `### \`kind\`` headings and
/// the `| \`field\` |` rows of the table under each.
fn documented() -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/explain-events.md"
    ))
    .unwrap();
    let mut kinds = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        if let Some(rest) = line.strip_prefix("### `") {
            let name = rest.trim_end_matches('`').to_string();
            kinds.insert(name.clone(), BTreeSet::new());
            current = Some(name);
        } else if line.starts_with("## ") || line.starts_with("### ") {
            current = None;
        } else if let (Some(kind), Some(rest)) = (&current, line.strip_prefix("| `")) {
            let field = rest.split('`').next().unwrap().to_string();
            kinds.get_mut(kind).unwrap().insert(field);
        }
    }
    kinds
}

/// The variants of `pub enum NAME {` in `source`, in snake case.
fn variants(source: &str, name: &str) -> Vec<String> {
    let start = source.find(&format!("pub enum {name} {{")).unwrap();
    let body = &source[start..];
    let body = &body[..body.find("\n}").unwrap()];
    body.lines()
        .skip(1)
        .filter_map(|l| {
            let l = l.strip_prefix("    ")?;
            let first = l.chars().next()?;
            if !first.is_ascii_uppercase() {
                return None;
            }
            let ident: String = l.chars().take_while(|c| c.is_alphanumeric()).collect();
            let mut snake = String::new();
            for (i, c) in ident.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    snake.push('_');
                }
                snake.push(c.to_ascii_lowercase());
            }
            Some(snake)
        })
        .collect()
}

#[test]
fn every_event_kind_in_the_code_is_documented() {
    let doc = documented();
    let hw = include_str!("../../vmlab-hw/src/events.rs");
    let kernel = include_str!("../../vmlab-kernel/src/explain.rs");
    let mut kinds = variants(hw, "Event");
    kinds.extend(variants(kernel, "KernelEvent"));
    assert!(kinds.len() > 30, "{kinds:?}");
    for kind in &kinds {
        assert!(
            doc.contains_key(kind),
            "{kind} is not in docs/explain-events.md"
        );
    }
    let extra: Vec<&String> = doc.keys().filter(|k| !kinds.contains(k)).collect();
    assert!(
        extra.is_empty(),
        "documented but not in the code: {extra:?}"
    );
}

#[test]
fn json_lines_have_exactly_the_documented_fields() {
    let doc = documented();
    let common = ["seq", "layer", "pid", "event"];
    let mut seen = BTreeSet::new();
    let runs = [
        stdout_of(&[
            "explain",
            "--scenario",
            "cow",
            "--json",
            "--count",
            "100000",
        ]),
        explain_abcad("clock", &["--json"]),
        explain_past_a_tick("aging", &["--json"]),
    ];
    for out in &runs {
        for line in out.lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let obj = value.as_object().unwrap();
            let kind = obj["event"].as_str().unwrap();
            let fields: BTreeSet<String> = obj
                .keys()
                .filter(|k| !common.contains(&k.as_str()))
                .cloned()
                .collect();
            assert_eq!(Some(&fields), doc.get(kind), "fields of {kind}: {line}");
            for c in common {
                assert!(obj.contains_key(c), "{line}");
            }
            seen.insert(kind.to_string());
        }
    }
    // The two runs between them show the main kinds.
    for kind in [
        "access",
        "tlb_probe",
        "walk_step",
        "flag_update",
        "tlb_fill",
        "page_fault",
        "translated",
        "fault",
        "demand_zero",
        "cow_copy",
        "eviction",
        "backing_read",
        "syscall_enter",
        "syscall_exit",
        "shootdown",
        "context_switch",
        "clock_tick",
    ] {
        assert!(seen.contains(kind), "no {kind} event: {seen:?}");
    }
}

/// Every event of a loop of 1100 references under `policy`, past the first
/// clock tick (before reference 1000).
fn explain_past_a_tick(policy: &str, extra: &[&str]) -> String {
    let args = [
        "explain",
        "--gen",
        "loop:pages=8,n=1100",
        "--frames",
        "8",
        "--policy",
        policy,
        "--count",
        "100000",
    ];
    stdout_of(&[&args[..], extra].concat())
}

/// The clock interrupt is told where it falls, before reference 1000, and
/// only for a policy that samples reference bits.
#[test]
fn clock_ticks_are_told_for_policies_that_sample_bits() {
    let tell = |policy: &str| explain_past_a_tick(policy, &[]);
    let aging = tell("aging");
    assert_eq!(
        aging
            .matches("clock tick after 1000 references: aging samples")
            .count(),
        1,
        "{aging}"
    );
    assert!(!tell("lru").contains("clock tick"));
}

#[test]
fn bad_flags_are_refused_naming_the_flag() {
    assert!(refused(&["explain"])
        .contains("expected SCRIPT, --scenario NAME, --gen SPEC or --trace FILE"));
    assert!(refused(&["explain", "--gen", "seq:pages=1,n=1", "--count", "0"]).contains("--count"));
    // A window of any size was held whole in memory before printing.
    let err = refused(&["explain", "--gen", "seq:pages=1,n=1", "--count", "1000001"]);
    assert!(
        err.contains("--count") && err.contains("1..=1000000"),
        "{err}"
    );
    assert!(refused(&["explain", "--gen", "bogus:n=1"]).contains("--gen"));
    assert!(refused(&["explain", "--gen", "seq:pages=1,n=1", "--swap", "1M"]).contains("--swap"));
    assert!(refused(&["explain", "--scenario", "nope"]).contains("scenario"));
    assert!(
        refused(&["explain", "--gen", "seq:pages=1,n=1", "--policy", "nope"]).contains("policy")
    );
}

/// `text` with its heading's trace path (a temporary file, which differs
/// from run to run) replaced by `abcad.txt`.
fn redact_trace_path(text: &str) -> String {
    let (heading, rest) = text.split_once('\n').unwrap();
    assert!(
        heading.starts_with("vmlab explain: ") && heading.ends_with(".txt"),
        "{heading}"
    );
    format!("vmlab explain: abcad.txt\n{rest}")
}

#[test]
fn snapshot_explain_of_the_fifo_case() {
    let text = explain_abcad("fifo", &[]);
    insta::assert_snapshot!("explain_abcad_fifo", redact_trace_path(&text));
}

#[test]
fn snapshot_explain_of_a_generator_on_a_teaching_machine() {
    let out = stdout_of(&[
        "explain",
        "--gen",
        "loop:pages=3,n=5",
        "--arch",
        "x86-32",
        "--frames",
        "5",
        "--policy",
        "clock",
        "--count",
        "60",
    ]);
    insta::assert_snapshot!("explain_loop_clock_x86_32", out);
}

/// `vmlab run`'s report without its wall-clock line.
/// `vmlab run`'s report without what differs between checkouts and runs:
/// the wall-clock line, and the checkout's directory in a script's path.
fn run_report(args: &[&str]) -> String {
    let checkout = concat!(env!("CARGO_MANIFEST_DIR"), "/../../");
    stdout_of(args)
        .lines()
        .filter(|l| !l.starts_with("time "))
        .map(|l| format!("{}\n", l.replace(checkout, "")))
        .collect()
}

#[test]
fn snapshot_run_reports() {
    insta::assert_snapshot!(
        "run_loop_clock",
        run_report(&[
            "run",
            "--gen",
            "loop:pages=12,n=2000",
            "--frames",
            "16",
            "--policy",
            "clock"
        ])
    );
    insta::assert_snapshot!(
        "run_zipf_lru_replacement",
        run_report(&[
            "run",
            "--gen",
            "zipf:pages=500,alpha=1.0,n=5000,seed=3",
            "--frames",
            "64",
            "--model",
            "replacement",
        ])
    );
    insta::assert_snapshot!(
        "run_cow_script",
        run_report(&[
            "run",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../examples/scripts/cow.rhai"
            ),
        ])
    );
}

/// Library calls are events of their own with their arguments, the
/// system calls they make follow them, and their return says what they
/// returned and how many system calls they made: the first malloc grows
/// the heap with brk, the second fits in it; printf of a line on the
/// terminal writes it at once; free returns nothing.
#[test]
fn library_calls_come_before_the_system_calls_they_cause() {
    let dir = std::env::temp_dir().join(format!("vmlab-explain-libc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("libc.rhai");
    std::fs::write(
        &script,
        "let p = malloc(16);\nlet q = malloc(32);\nprintf(\"hello %d\\n\", 42);\nfree(p);\n",
    )
    .unwrap();
    let json = stdout_of(&[
        "explain",
        script.to_str().unwrap(),
        "--json",
        "--count",
        "100000",
    ]);
    let events: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let position = |event: &str, name: &str| {
        events
            .iter()
            .position(|e| e["event"] == event && e["name"] == name)
            .unwrap_or_else(|| panic!("no {event} {name} in {json}"))
    };
    let malloc = position("library_call", "malloc");
    let printf = position("library_call", "printf");
    let free = position("library_call", "free");
    assert!(malloc < printf && printf < free);
    let write = events[printf..]
        .iter()
        .position(|e| e["event"] == "syscall_enter" && e["name"] == "write")
        .map(|i| i + printf)
        .expect("printf's write");
    assert!(write < free, "the line is written before free is called");
    // Each call's return, after the system calls between, which it counts.
    let mut returns = Vec::new();
    let mut called = None;
    for (at, e) in events.iter().enumerate() {
        if e["event"] == "library_call" {
            called = Some(at);
        }
        if e["event"] == "library_return" {
            let from = called.take().expect("a return after its call");
            let made = events[from..at]
                .iter()
                .filter(|e| e["event"] == "syscall_enter")
                .count() as u64;
            assert_eq!(e["system_calls"], made, "{e}");
            returns.push((e["name"].as_str().unwrap(), e["value"].clone(), made));
        }
    }
    let names: Vec<&str> = returns.iter().map(|r| r.0).collect();
    assert_eq!(names, ["malloc", "malloc", "printf", "free"]);
    assert!(returns[0].2 >= 1, "the first malloc asks for a heap");
    assert_eq!(returns[1].2, 0, "the second malloc fits in the heap");
    // glibc asks what stdout is (fstat), then whether it is a terminal
    // (line buffering: a character device but no pseudo-terminal), then
    // writes the line.
    assert_eq!(returns[2], ("printf", "9".into(), 3), "hello 42\\n");
    assert_eq!(returns[3].1, serde_json::Value::Null, "free is void");
    let p = returns[0].1.as_str().unwrap();
    assert!(p.starts_with("0x"), "a pointer in hex: {p}");
    assert_eq!(
        events[printf]["args"],
        serde_json::json!([
            {"name": "format", "value": "\"hello %d\\n\""},
            {"name": "...", "value": "42"}
        ])
    );
    let text = stdout_of(&["explain", script.to_str().unwrap(), "--count", "100000"]);
    assert!(
        text.contains("library call printf(format=\"hello %d\\n\", 42)"),
        "{text}"
    );
    assert!(text.contains("system call fstat(fd=1)"), "{text}");
    assert!(
        text.contains("st_mode=S_IFCHR, st_rdev=makedev(5, 0), st_blksize=1024"),
        "{text}"
    );
    assert!(
        text.contains("system call ioctl(fd=1, op=TCGETS)"),
        "{text}"
    );
    assert!(
        text.contains("printf returned 9, after 3 system calls"),
        "{text}"
    );
    assert!(
        text.contains("malloc returned 0x")
            && text.contains(", without a system call: user mode throughout"),
        "{text}"
    );
    assert!(text.contains(&format!("free(ptr={p})")), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A script that fails is narrated up to its error, then ends with the
/// error's place and status 2 (it used to print the error alone).
#[test]
fn a_failing_script_is_narrated_up_to_its_error() {
    let dir = std::env::temp_dir().join(format!("vmlab-explain-fail-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("fails.rhai");
    std::fs::write(
        &script,
        "let p = malloc(16);\nstore64(p, 7);\nassert_eq(load64(p), 8);\nprintf(\"never\\n\");\n",
    )
    .unwrap();
    let path = script.to_str().unwrap();
    for json in [false, true] {
        let mut args = vec!["explain", path, "--count", "100000"];
        if json {
            args.push("--json");
        }
        let out = common::vmlab(&args);
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("fails.rhai:3:1: assertion failed"),
            "{stderr}"
        );
        assert!(
            stdout.contains("malloc"),
            "the malloc before the error: {stdout}"
        );
        assert!(
            !stdout.contains("printf"),
            "nothing after the error: {stdout}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
