//! What every CLI test file needs: running the `vmlab` binary, its output
//! when it must succeed, and its error when it must refuse.

use std::process::{Command, Output};

/// Runs `vmlab` with `args`.
pub fn vmlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(args)
        .output()
        .expect("the vmlab binary runs")
}

/// The standard output of a command that must succeed.
pub fn stdout_of(args: &[&str]) -> String {
    let out = vmlab(args);
    assert!(
        out.status.success(),
        "vmlab {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Runs a command that must be refused; returns its stderr.
pub fn refused(args: &[&str]) -> String {
    let out = vmlab(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "vmlab {args:?}: {stderr}");
    assert!(
        !stderr.contains("panicked"),
        "vmlab {args:?} panicked: {stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing half-written on stdout");
    stderr
}
