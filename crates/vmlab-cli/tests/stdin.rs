//! A trace on standard input (`--trace -`, or a pipe by any name): it
//! runs as its file does, and whatever would read it a second time (a
//! sweep's configurations, the curves of several schemes, OPT's pre-pass,
//! placing an address error at its line) refuses or does without, rather
//! than read on from where the first reader stopped.

mod common;
#[path = "common/fed.rs"]
mod fed;

use fed::vmlab_fed;
use std::path::{Path, PathBuf};

/// The standard output of a fed command that must succeed.
fn fed_stdout(args: &[&str], input: &[u8]) -> String {
    let out = vmlab_fed(args, input);
    assert!(
        out.status.success(),
        "vmlab {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The standard error of a fed command that must be refused.
fn fed_refused(args: &[&str], input: &[u8]) -> String {
    let out = vmlab_fed(args, input);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "vmlab {args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing half-written on stdout");
    stderr
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vmlab-stdin-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// A lackey trace of `lines` accesses over a few dozen pages, some of
/// them stores and modifies, after Valgrind's header.
fn lackey(lines: usize) -> String {
    let mut text = String::from("==4242== Lackey, an example Valgrind tool\n");
    for i in 0..lines {
        let page = (i * 7919) % 53;
        let op = ["L", "S", "M", "L"][i % 4];
        text.push_str(&format!(
            " {op} {:08x},8\n",
            0x0400_0000 + page * 4096 + i % 512
        ));
    }
    text
}

/// A report's lines, without its first (the workload's name) and its
/// wall-clock time.
fn counts(report: &str) -> Vec<&str> {
    report
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("time"))
        .collect()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn a_trace_on_standard_input_runs_as_its_file_does() {
    let dir = scratch("same");
    let text = lackey(3000);
    let lackey_file = dir.join("t.lackey");
    std::fs::write(&lackey_file, &text).unwrap();
    let bin = dir.join("z.vmt");
    let zst = dir.join("z.vmt.zst");
    for file in [&bin, &zst] {
        common::stdout_of(&[
            "generate",
            "zipf:pages=500,alpha=1.0,n=20000,seed=3",
            "-o",
            path_str(file),
        ]);
    }
    for file in [&lackey_file, &zst, &bin] {
        let bytes = std::fs::read(file).unwrap();
        for model in ["full", "replacement"] {
            let args = |trace: &str| {
                ["run", "--trace", trace, "--frames", "20", "--model", model]
                    .map(str::to_owned)
                    .to_vec()
            };
            let by_path = args(path_str(file));
            let by_path: Vec<&str> = by_path.iter().map(String::as_str).collect();
            let from_file = common::stdout_of(&by_path);
            for name in ["-", "/dev/stdin"] {
                let fed = args(name);
                let fed: Vec<&str> = fed.iter().map(String::as_str).collect();
                let from_stdin = fed_stdout(&fed, &bytes);
                assert_eq!(
                    counts(&from_stdin),
                    counts(&from_file),
                    "{} as {name}, {model}",
                    file.display()
                );
                if name == "-" {
                    assert!(
                        from_stdin.starts_with("vmlab run: <stdin>\n"),
                        "{from_stdin}"
                    );
                }
            }
        }
    }
    // A sweep of one configuration reads it once.
    let bytes = std::fs::read(&bin).unwrap();
    let sweep = |trace: &str| {
        [
            "sweep",
            "--trace",
            trace,
            "--policies",
            "clock",
            "--frames",
            "30",
        ]
        .map(str::to_owned)
    };
    let fed = sweep("-");
    let fed: Vec<&str> = fed.iter().map(String::as_str).collect();
    let by_path = sweep(path_str(&bin));
    let by_path: Vec<&str> = by_path.iter().map(String::as_str).collect();
    assert_eq!(fed_stdout(&fed, &bytes), common::stdout_of(&by_path));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_trace_read_once_is_refused_where_it_would_be_read_twice() {
    let input = lackey(200).into_bytes();
    for name in ["-", "/dev/stdin"] {
        let shown = if name == "-" { "<stdin>" } else { name };
        let once = format!("{shown} can be read only once (standard input, a pipe or a device");
        let e = fed_refused(
            &[
                "sweep",
                "--trace",
                name,
                "--policies",
                "lru,fifo",
                "--frames",
                "10",
            ],
            &input,
        );
        assert!(e.contains(&format!("trace: {once}")), "{e}");
        assert!(
            e.contains("a sweep reads it once a configuration, 2 times"),
            "{e}"
        );
        assert!(e.contains("save it to a file first"), "{e}");
        // Curves of 4 KiB pages and of `other` scheme's.
        let curves = |other: &'static str| {
            [
                "sweep", "--trace", name, "--mrc", "exact", "--frames", "10", "--arch", "x86-64",
                "--arch", other,
            ]
        };
        let e = fed_refused(&curves("aarch64-16k"), &input);
        assert!(e.contains(&once), "{e}");
        assert!(
            e.contains("a miss-ratio sweep reads it once a page size, 2 times"),
            "{e}"
        );
        // Schemes of one page size share one pass, which a stream allows.
        let rows = fed_stdout(&curves("riscv-sv39"), &input);
        assert_eq!(
            rows.lines().filter(|l| l.contains("mrc-exact")).count(),
            2,
            "{rows}"
        );
        let e = fed_refused(&["run", "--trace", name, "--policy", "opt"], &input);
        assert!(e.contains(&format!("--policy: {once}")), "{e}");
        assert!(e.contains("opt reads it twice"), "{e}");
    }
}

/// Regression: a text trace's address error is placed at its line by
/// reading the trace again up to the record; a pipe read again went on
/// from where the run had stopped, and the error named a wrong line
/// (`/dev/stdin:96:` for line 101).
#[test]
fn an_address_error_in_a_piped_trace_names_its_record_not_a_wrong_line() {
    // Megabytes: more than the run reads ahead of its error, so the pipe
    // still holds some when the error is placed.
    let good = lackey(200_000);
    let mut lines: Vec<&str> = good.lines().collect();
    lines.insert(100, " L ffffffffffff0000,8");
    let text = lines.join("\n") + "\n";
    let dir = scratch("placed");
    let file = dir.join("bad.lackey");
    std::fs::write(&file, &text).unwrap();
    let by_path = common::refused(&["run", "--trace", path_str(&file), "--frames", "20"]);
    assert!(
        by_path.contains(&format!(
            "{}:101: address 0xffffffffffff0000",
            file.display()
        )),
        "{by_path}"
    );
    for name in ["-", "/dev/stdin"] {
        // The format given and bad lines skipped, as a reader started
        // mid-line in the pipe's rest would need to count on.
        let args = [
            "run",
            "--trace",
            name,
            "--frames",
            "20",
            "--format",
            "lackey",
            "--skip-bad-lines",
        ];
        let e = fed_refused(&args, text.as_bytes());
        // The header is no record, and each of the 25 modify lines
        // before it is two: line 101 holds record 125.
        let shown = if name == "-" { "<stdin>" } else { name };
        assert!(
            e.contains(&format!("{shown}: record 125: address 0xffffffffffff0000")),
            "{name}: {e}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
