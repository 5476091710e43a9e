//! Running the `vmlab` binary with bytes on its standard input, for the
//! tests of what reads standard input (`--trace -`, `vmlab plot -`).

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `vmlab` with `args`, `input` written to its standard input (from
/// a thread, so a large input cannot fill the pipe while vmlab's output
/// fills the other way).
pub fn vmlab_fed(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the vmlab binary runs");
    let mut stdin = child.stdin.take().expect("a pipe");
    let input = input.to_vec();
    // vmlab may refuse before reading it all: a broken pipe is its right.
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("vmlab ends");
    feeder.join().expect("the feeder ends");
    out
}
