//! Library calls against system calls, in counts and in time.
#![allow(clippy::unwrap_used)]

mod common;

use common::{on_terminal, stdout_to};
use vmlab_kernel::cost::CostModel;
use vmlab_libc::{Arg, Libc, MallocConfig};

#[test]
fn a_thousand_mallocs_are_one_system_call_and_their_page_faults() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    let before = libc.accounting().counts;
    for _ in 0..1000 {
        libc.malloc(pid, 16).unwrap();
    }
    let after = libc.accounting();
    assert_eq!(after.library("malloc"), 1000);
    let d = |f: fn(&vmlab_kernel::cost::CostCounts) -> u64| f(&after.counts) - f(&before);
    assert_eq!(d(|c| c.syscalls), 1);
    // The 1000 chunks fill 32000 bytes of new heap: 8 pages, each a
    // demand-zero fault taken in user mode.
    assert_eq!(d(|c| c.minor_faults), 8);
    assert_eq!(d(|c| c.page_zeroes), 8);
    assert_eq!(d(|c| c.mode_switches), 2 + 2 * 8);
}

fn print_lines(libc: &mut Libc, pid: u32) {
    for i in 0..1000 {
        libc.printf(pid, "line %d\n", &[Arg::Int(i)]).unwrap();
    }
    libc.exit(pid, 0).unwrap();
}

#[test]
fn printf_to_a_terminal_costs_a_thousand_system_calls_more_than_to_a_file() {
    let (mut to_file, pid) = stdout_to("out");
    print_lines(&mut to_file, pid);
    let (mut to_tty, pid) = on_terminal(MallocConfig::default());
    print_lines(&mut to_tty, pid);
    let (file, tty) = (to_file.accounting(), to_tty.accounting());
    assert_eq!(file.library("printf"), tty.library("printf"));
    assert_eq!(file.library_total(), 1001);
    assert_eq!(tty.syscall("write") - file.syscall("write"), 997);
    // Each system call is two mode switches, each fault outside one two
    // more (the file's 4096-byte buffer spans one page more than the
    // terminal's 1024 bytes: one fault more).
    for c in [&file.counts, &tty.counts] {
        let faults = c.mode_switches - 2 * c.syscalls;
        assert!(faults <= 2 * (c.minor_faults + c.major_faults));
    }
    assert_eq!(
        tty.counts.mode_switches - file.counts.mode_switches,
        2 * (tty.counts.syscalls - file.counts.syscalls) - 2
    );
    // Both copied the same 8890 bytes into the kernel.
    assert_eq!(file.counts.user_copy_bytes, 8890);
    assert_eq!(tty.counts.user_copy_bytes, 8890);
    // The kernel's own counts agree with the library's wrappers, besides
    // the calls made on the kernel directly to set the process up:
    // attach_terminal's three opens, and a close and an open more to
    // redirect stdout to the file.
    let kernel = to_tty.kernel().counters();
    assert_eq!(kernel.syscalls, tty.counts.syscalls + 3);
    assert_eq!(kernel.user_copy_bytes, 8890);
    assert_eq!(
        to_file.kernel().counters().syscalls,
        file.counts.syscalls + 5
    );
    let model = CostModel::default();
    let (file_time, tty_time) = (to_file.time(&model), to_tty.time(&model));
    // 997 more null-call overheads of 100 ns each, at least; the file's
    // buffer being four times the terminal's costs the same user time.
    // The terminal's 997 extra calls at 100 ns each dominate its kernel
    // time (about 110 µs against 13 µs); the file pays in disk time
    // instead, when exit's close leaves the pages to write back.
    assert!(tty_time.kernel_ns > 5.0 * file_time.kernel_ns);
    assert!(tty_time.kernel_ns - file_time.kernel_ns > 90_000.0);
    assert_eq!(tty_time.disk_ns, 0.0);
    assert!(file_time.user_ns > 0.0 && tty_time.user_ns > 0.0);
}
