//! Where every output flag writes (`generate -o`, `run --csv`, `compare
//! --csv`, `sweep --csv/--plot`, `plot -o`): through symbolic links to the
//! file they name, in place into devices and FIFOs (with their write errors
//! reported), and to standard output for `-`. These once replaced a link,
//! a device node or a FIFO with a regular file, and exited 0 on a full
//! device.

#![cfg(unix)]

mod common;

use common::{refused, stdout_of, vmlab};
use std::os::unix::fs::{symlink, FileTypeExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const GEN: &str = "loop:pages=5,n=20";

/// A `vmlab compare` workload small enough to be quick.
const ALLOCS: &str = "allocs:n=200,min=1K,max=64K,live=20,seed=1";

/// A fresh directory for one test.
fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vmlab-outputs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// The argument lists that write a small output of each command to `path`
/// (a plot's name must end in .svg), after `plot_input` is written.
fn writers(path: &str, plot_input: &str) -> Vec<Vec<String>> {
    let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect();
    let sweep = ["sweep", "--gen", GEN, "--frames", "2,4", "--model"];
    vec![
        argv(&["generate", GEN, "-o", path]),
        argv(&[
            "run",
            "--gen",
            GEN,
            "--frames",
            "3",
            "--model",
            "replacement",
            "--csv",
            path,
            "--every",
            "5",
        ]),
        argv(&["compare", "--workload", ALLOCS, "--csv", path]),
        argv(&[&sweep[..], &["replacement", "--csv", path]].concat()),
        argv(
            &[
                &sweep[..],
                &["replacement", "--plot", &format!("{path}.svg")],
            ]
            .concat(),
        ),
        argv(&["plot", plot_input, "-o", &format!("{path}.svg")]),
    ]
}

fn plot_input(dir: &Path) -> String {
    let csv = dir.join("in.csv");
    std::fs::write(&csv, "references,rss\n0,1\n10,2\n").expect("write input");
    utf8(&csv).to_string()
}

fn run_ok(argv: &[String]) {
    let args: Vec<&str> = argv.iter().map(String::as_str).collect();
    stdout_of(&args);
}

#[test]
fn output_through_a_symlink_keeps_the_link_and_fills_its_target() {
    let dir = work_dir("links");
    let input = plot_input(&dir);
    std::fs::create_dir(dir.join("sub")).expect("sub");
    for (i, argv) in writers("@", &input).into_iter().enumerate() {
        let kind = &argv[0];
        // A chain: a -> sub/b -> c (relative to sub/), c holding old bytes;
        // and a dangling link: d -> sub/new, which does not exist yet.
        let (a, b, c) = (
            dir.join(format!("a{i}")),
            dir.join(format!("sub/b{i}")),
            dir.join(format!("sub/c{i}")),
        );
        let (d, new) = (dir.join(format!("d{i}")), dir.join(format!("sub/new{i}")));
        let svg = |p: &Path| PathBuf::from(format!("{}.svg", p.display()));
        let is_plot = argv.iter().any(|s| s == "@.svg");
        let name = |p: &Path| if is_plot { svg(p) } else { p.to_path_buf() };
        std::fs::write(name(&c), "precious").expect("target");
        let relative_b = Path::new("sub").join(name(&b).file_name().expect("name"));
        symlink(relative_b, name(&a)).expect("link a");
        symlink(name(&c).file_name().expect("name"), name(&b)).expect("link b");
        symlink(name(&new), name(&d)).expect("link d");
        for (link, target) in [(&a, &c), (&d, &new)] {
            let at = utf8(link);
            let argv: Vec<String> = argv.iter().map(|s| s.replacen('@', at, 1)).collect();
            run_ok(&argv);
            assert!(
                std::fs::symlink_metadata(name(link))
                    .expect("link")
                    .file_type()
                    .is_symlink(),
                "{kind}: the link became a file"
            );
            let written = std::fs::read(name(target)).expect("target written");
            assert!(
                !written.is_empty() && written != b"precious",
                "{kind}: the target did not get the output"
            );
        }
        assert!(std::fs::symlink_metadata(name(&b))
            .expect("b")
            .file_type()
            .is_symlink());
    }
    // No temporary file is left beside any target.
    for entry in std::fs::read_dir(dir.join("sub")).expect("dir") {
        let name = entry.expect("entry").file_name();
        assert!(
            !name.to_string_lossy().starts_with('.'),
            "{name:?} left behind"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn output_to_dev_null_writes_in_place_and_keeps_the_device() {
    let dir = work_dir("null");
    let input = plot_input(&dir);
    for argv in writers("/dev/null", &input) {
        if argv.iter().any(|s| s.ends_with(".svg")) {
            continue; // /dev/null.svg is no device
        }
        run_ok(&argv);
        let null = std::fs::metadata("/dev/null").expect("/dev/null");
        assert!(
            null.file_type().is_char_device(),
            "{argv:?} replaced /dev/null"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn output_to_a_full_device_fails_naming_it() {
    if !Path::new("/dev/full").exists() {
        eprintln!("no /dev/full here: skipped");
        return;
    }
    let dir = work_dir("full");
    let input = plot_input(&dir);
    for argv in writers("/dev/full", &input) {
        if argv.iter().any(|s| s.ends_with(".svg")) {
            continue;
        }
        let args: Vec<&str> = argv.iter().map(String::as_str).collect();
        let e = refused(&args);
        assert!(e.contains("/dev/full: cannot write: "), "{argv:?}: {e}");
        let full = std::fs::metadata("/dev/full").expect("/dev/full");
        assert!(
            full.file_type().is_char_device(),
            "{argv:?} replaced /dev/full"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn output_to_a_fifo_streams_into_it() {
    let dir = work_dir("fifo");
    let fifo = dir.join("pipe");
    if !Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("no mkfifo here: skipped");
        return;
    }
    let file = dir.join("file.vmt");
    stdout_of(&["generate", GEN, "-o", utf8(&file)]);
    let mut reader = Command::new("cat")
        .arg(&fifo)
        .stdout(Stdio::piped())
        .spawn()
        .expect("cat runs");
    let out = vmlab(&["generate", GEN, "-o", utf8(&fifo)]);
    let still_fifo = std::fs::symlink_metadata(&fifo)
        .expect("fifo")
        .file_type()
        .is_fifo();
    if !(out.status.success() && still_fifo) {
        // Otherwise cat would wait for a writer for ever.
        let _ = reader.kill();
    }
    let read = reader.wait_with_output().expect("cat");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(still_fifo, "the FIFO was replaced by a file");
    assert_eq!(read.stdout, std::fs::read(&file).expect("file"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `-` is standard output for every output flag but a plot's (whose
/// format is its name's extension), and the report it would have shared
/// standard output with is left out; `--json` beside it is refused.
#[test]
fn dash_means_standard_output_for_every_output_flag() {
    let dir = work_dir("dash");
    let file = dir.join("t.vmt");
    stdout_of(&["generate", GEN, "-o", utf8(&file)]);
    for to_stdout in [
        vmlab(&["generate", GEN, "-o", "-"]),
        vmlab(&["generate", GEN, "-o", "/dev/stdout"]),
    ] {
        assert!(to_stdout.status.success());
        assert_eq!(to_stdout.stdout, std::fs::read(&file).expect("file"));
    }
    assert!(std::fs::symlink_metadata("/dev/stdout").is_ok_and(|m| m.file_type().is_symlink()));
    assert!(!dir.join("-").exists());

    let run = [
        "run",
        "--gen",
        GEN,
        "--frames",
        "9",
        "--model",
        "replacement",
        "--every",
        "10",
        "--csv",
        "-",
    ];
    assert_eq!(
        stdout_of(&run),
        "references,faults,interval_fault_rate,resident_pages,evictions,write_backs,interval_tlb_hit_rate\n\
         10,5,0.500000,5,0,0,\n20,5,0.000000,5,0,0,\n"
    );
    let compare = ["compare", "--workload", ALLOCS, "--csv", "-"];
    let series = stdout_of(&compare);
    assert!(series.starts_with("scheme,config,event,"), "{series}");
    assert!(!series.contains("time series written"), "{series}");
    let sweep = [
        "sweep",
        "--gen",
        GEN,
        "--frames",
        "2",
        "--model",
        "replacement",
        "--csv",
        "-",
    ];
    for with_json in [&run[..], &compare, &sweep] {
        let mut argv = with_json.to_vec();
        argv.push("--json");
        let e = refused(&argv);
        assert!(e.contains("--csv: - writes to standard output"), "{e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A reader who stops reading (`vmlab run ... | head -0`) is no error, for
/// a report as for a streamed output: the command exits 0 and says nothing.
#[test]
fn a_closed_pipe_on_standard_output_is_not_an_error() {
    for argv in [
        vec!["run", "--gen", GEN, "--frames", "9"],
        vec!["generate", GEN, "-o", "-"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vmlab"))
            .args(&argv)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("vmlab runs");
        // Closed before the command has started writing, almost always; a
        // write that beats it fits the pipe and is no error either.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("vmlab");
        assert!(out.status.success(), "{argv:?}: {:?}", out.status);
        assert!(
            out.stderr.is_empty(),
            "{argv:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
