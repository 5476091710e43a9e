//! `vmlab record` on real programs: a small C program compiled here whose
//! address-space calls are known (a big malloc is an mmap, sbrk moves the
//! break, then mprotect and munmap), and `ls`; each trace replayed with
//! `vmlab run --trace`. Valgrind must be installed (.ci/run installs it);
//! a machine without it skips these tests with a message, unless
//! `VMLAB_REQUIRE_VALGRIND` is set (.ci/run sets it), where a missing
//! Valgrind is a failure.
#![allow(clippy::unwrap_used)]

mod common;

use common::{refused, stdout_of};
use std::path::{Path, PathBuf};
use std::process::Command;
use vmlab_workload::op::Op;
use vmlab_workload::syscall::{AddressCall, Syscall};
use vmlab_workload::trace::{self, ReadOptions, TraceFormat};

const PAGE: u64 = 4096;

/// A program whose calls the test predicts: malloc of 1 MiB (above glibc's
/// mmap threshold, so an mmap of 1 MiB and a page for the chunk header),
/// sbrk of 5 pages, an mmap of 16 pages with its first 4 made read-only
/// and its last 8 unmapped, and free of the big block (its munmap).
const PROGRAM: &str = r#"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

int main(void) {
    char *volatile big = malloc(1 << 20);
    memset(big, 1, 1 << 20);
    char *volatile heap = sbrk(0);
    if (sbrk(5 * 4096) == (void *)-1) return 2;
    memset(heap, 2, 5 * 4096);
    char *volatile m = mmap(0, 16 * 4096, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return 3;
    memset(m, 3, 16 * 4096);
    mprotect(m, 4 * 4096, PROT_READ);
    munmap(m + 8 * 4096, 8 * 4096);
    free(big);
    return m[0] == 3 ? 0 : 1;
}
"#;

/// Whether Valgrind can run here; unless required, a missing one skips.
fn have_valgrind() -> bool {
    let found = Command::new("valgrind").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("VMLAB_REQUIRE_VALGRIND").is_none(),
            "valgrind is missing in CI: .ci/run installs it (apt-get install valgrind)"
        );
        eprintln!("skipping: valgrind is not installed (apt-get install valgrind)");
    }
    found
}

fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vmlab-record-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn ops_of(path: &Path) -> Vec<Op> {
    let mut r = trace::open(path, None, ReadOptions::default()).unwrap();
    assert_eq!(r.format(), TraceFormat::VmlabBin);
    r.ops().map(Result::unwrap).collect()
}

fn calls(ops: &[Op]) -> Vec<Syscall> {
    ops.iter()
        .filter_map(|op| match op {
            Op::Syscall(c) => Some(*c),
            Op::Access(_) => None,
        })
        .collect()
}

/// The JSON report of `vmlab run --trace path` with plenty of memory.
fn replay(path: &Path) -> serde_json::Value {
    let out = stdout_of(&[
        "run",
        "--trace",
        path.to_str().unwrap(),
        "--frames",
        "8192",
        "--json",
    ]);
    serde_json::from_str(&out).unwrap()
}

#[test]
fn a_c_program_records_its_calls_in_order_and_replays_them() {
    if !have_valgrind() {
        return;
    }
    let dir = work_dir("c");
    let source = dir.join("prog.c");
    std::fs::write(&source, PROGRAM).unwrap();
    let binary = dir.join("prog");
    let cc = Command::new("cc")
        .args(["-O0", "-o"])
        .arg(&binary)
        .arg(&source)
        .output()
        .expect("a C compiler `cc` (apt-get install gcc)");
    assert!(
        cc.status.success(),
        "{}",
        String::from_utf8_lossy(&cc.stderr)
    );

    let trace = dir.join("prog.vmtrace.zst");
    let summary = stdout_of(&[
        "record",
        "-o",
        trace.to_str().unwrap(),
        "--",
        binary.to_str().unwrap(),
    ]);
    assert!(
        summary.contains("program         exit status 0"),
        "{summary}"
    );
    assert!(summary.contains("system calls    "), "{summary}");

    let ops = ops_of(&trace);
    let calls = calls(&ops);
    let accesses = ops.len() - calls.len();
    assert!(
        summary.contains(&format!("accesses        {accesses}\n")),
        "{summary}"
    );
    // The program's own calls, in order, after the loader's and libc's.
    let big = calls
        .iter()
        .position(
            |c| matches!(c.call, AddressCall::Mmap { len, fd: -1, .. } if len == (1 << 20) + PAGE),
        )
        .expect("malloc's mmap of 1 MiB and a page");
    let rest = &calls[big..];
    let big_at = rest[0].result.unwrap();
    let AddressCall::Brk { addr: new_break } = rest[1].call else {
        panic!("expected sbrk's brk after the malloc, found {}", rest[1]);
    };
    assert_eq!(rest[1].result, Ok(new_break));
    let m = match rest[2].call {
        AddressCall::Mmap {
            len: 65536,
            prot: 3,
            flags: 0x22,
            fd: -1,
            ..
        } => rest[2].result.unwrap(),
        _ => panic!("expected mmap of 16 pages, found {}", rest[2]),
    };
    let expected = [
        AddressCall::Mprotect {
            addr: m,
            len: 4 * PAGE,
            prot: 1,
        },
        AddressCall::Munmap {
            addr: m + 8 * PAGE,
            len: 8 * PAGE,
        },
        AddressCall::Munmap {
            addr: big_at,
            len: (1 << 20) + PAGE,
        },
    ];
    let got: Vec<AddressCall> = rest[3..6].iter().map(|c| c.call).collect();
    assert_eq!(got, expected);
    assert!(rest[3..6].iter().all(|c| c.result == Ok(0)));

    let report = replay(&trace);
    let r = &report["replay"];
    assert_eq!(r["differing"], 0, "{report}");
    assert_eq!(r["refused_accesses"], 0, "{report}");
    assert_eq!(report["evictions"], 0);
    // The big block's 257 pages, the 5 heap pages and the 16 mapped ones
    // each fault once as demand-zero (libc's own anonymous pages too).
    let minor = r["minor_faults"].as_u64().unwrap();
    assert!(minor >= 257 + 5 + 16, "{report}");
    // No page faults twice unless a call remapped it: the fault count
    // is the pages touched, give or take the calls.
    let faults = report["faults"].as_u64().unwrap();
    let pages = report["distinct_pages"].as_u64().unwrap();
    let syscalls = r["syscalls"].as_u64().unwrap();
    assert!(faults >= pages && faults <= pages + syscalls, "{report}");
    let text = stdout_of(&["run", "--trace", trace.to_str().unwrap()]);
    assert!(
        text.contains("replaying the trace's system calls"),
        "{text}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn ls_records_and_replays() {
    if !have_valgrind() {
        return;
    }
    let dir = work_dir("ls");
    let trace = dir.join("ls.vmtrace.zst");
    let summary = stdout_of(&["record", "-o", trace.to_str().unwrap(), "--", "ls", "/"]);
    assert!(summary.contains("exit status 0"), "{summary}");
    let ops = ops_of(&trace);
    let calls = calls(&ops);
    // The dynamic linker maps libc: file mappings, then RELRO mprotects.
    let file_maps = calls
        .iter()
        .filter(|c| matches!(c.call, AddressCall::Mmap { fd, .. } if fd >= 0))
        .count();
    assert!(file_maps >= 3, "{calls:?}");
    assert!(calls
        .iter()
        .any(|c| matches!(c.call, AddressCall::Mprotect { .. })));
    let report = replay(&trace);
    assert_eq!(report["replay"]["differing"], 0, "{report}");
    assert_eq!(report["replay"]["refused_accesses"], 0, "{report}");
    assert_eq!(
        report["replay"]["syscalls"].as_u64().unwrap(),
        calls.len() as u64
    );
    // Nothing half-written next to the trace.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_missing_valgrind_says_how_to_install_it() {
    let dir = work_dir("missing");
    let out = dir.join("x.vmtrace.zst");
    let err = refused(&[
        "record",
        "--valgrind",
        "/nonexistent/valgrind",
        "-o",
        out.to_str().unwrap(),
        "--",
        "ls",
    ]);
    assert!(err.contains("apt-get install valgrind"), "{err}");
    assert!(!out.exists());
    // No command at all is a usage error.
    refused(&["record"]);
    std::fs::remove_dir_all(dir).unwrap();
}
