//! Buffered stdio: how many write(2)s a program's output costs on a file,
//! a terminal and stderr, what exit, _exit and fork do to a buffer, and
//! printf's conversions.
#![allow(clippy::unwrap_used)]

mod common;

use common::{c_string, file, on_terminal, stdout_to};
use vmlab_kernel::Errno;
use vmlab_libc::{Arg, LibcError, MallocConfig};

/// "line 0\n" to "line 999\n".
fn thousand_lines() -> Vec<u8> {
    (0..1000)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect()
}

#[test]
fn a_thousand_printfs_to_a_file_are_a_handful_of_writes() {
    let (mut libc, pid) = stdout_to("out");
    for i in 0..1000 {
        libc.printf(pid, "line %d\n", &[Arg::Int(i)]).unwrap();
    }
    // 8890 bytes through a 4096-byte buffer: two full buffers so far.
    assert_eq!(libc.accounting().syscall("write"), 2);
    libc.exit(pid, 0).unwrap();
    let acc = libc.accounting();
    assert_eq!(acc.syscall("write"), 3);
    assert_eq!(acc.library("printf"), 1000);
    // Deciding the buffering asked fstat once, and isatty not at all (a
    // regular file is no terminal); the buffer came from malloc.
    assert_eq!(acc.syscall("fstat"), 1);
    assert_eq!(acc.syscall("ioctl"), 0);
    assert_eq!(acc.syscall("brk"), 2);
    assert_eq!(file(&mut libc, "out"), thousand_lines());
}

#[test]
fn a_thousand_printfs_to_a_terminal_are_a_thousand_writes() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    for i in 0..1000 {
        libc.printf(pid, "line %d\n", &[Arg::Int(i)]).unwrap();
    }
    assert_eq!(libc.accounting().syscall("write"), 1000);
    assert_eq!(libc.kernel().console(), thousand_lines());
    // The terminal is a character device but no pseudo-terminal: glibc
    // asks isatty too.
    assert_eq!(libc.accounting().syscall("fstat"), 1);
    assert_eq!(libc.accounting().syscall("ioctl"), 1);
}

#[test]
fn a_terminal_line_is_written_through_its_last_newline() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    let s = c_string(&mut libc, pid, "a\nb");
    libc.printf(pid, "%s", &[Arg::Str(s)]).unwrap();
    assert_eq!(libc.kernel().console(), b"a\n");
    libc.printf(pid, "c", &[]).unwrap();
    assert_eq!(libc.accounting().syscall("write"), 1);
    libc.printf(pid, "\n", &[]).unwrap();
    assert_eq!(libc.kernel().console(), b"a\nbc\n");
}

#[test]
fn stderr_is_unbuffered_one_write_per_call() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    let err = libc.stderr(pid).unwrap();
    libc.fprintf(pid, err, "error %d: %s", &[Arg::Int(2), Arg::Str(0)])
        .unwrap();
    assert_eq!(libc.kernel().console(), b"error 2: (null)");
    assert_eq!(libc.accounting().syscall("write"), 1);
    libc.fputc(pid, b'!', err).unwrap();
    assert_eq!(libc.accounting().syscall("write"), 2);
    // No buffer was allocated, so nothing was asked of the descriptor.
    assert_eq!(libc.accounting().syscall("fstat"), 0);
    assert_eq!(libc.accounting().syscall("ioctl"), 0);
    assert_eq!(libc.accounting().syscall("brk"), 1);
}

#[test]
fn exit_flushes_and_underscore_exit_loses_the_buffer() {
    let (mut libc, pid) = stdout_to("kept");
    libc.printf(pid, "kept\n", &[]).unwrap();
    assert_eq!(file(&mut libc, "kept"), b"");
    libc.exit(pid, 0).unwrap();
    assert_eq!(file(&mut libc, "kept"), b"kept\n");
    assert!(!libc.kernel().is_live(pid));

    let (mut libc, pid) = stdout_to("lost");
    libc.printf(pid, "lost\n", &[]).unwrap();
    libc._exit(pid, 0).unwrap();
    assert_eq!(file(&mut libc, "lost"), b"");
    assert_eq!(libc.accounting().syscall("write"), 0);
    assert_eq!(libc.printf(pid, "x", &[]), Err(LibcError::NotStarted(pid)));
}

#[test]
fn a_buffer_not_flushed_before_fork_is_written_twice() {
    let (mut libc, pid) = stdout_to("twice");
    libc.printf(pid, "before fork\n", &[]).unwrap();
    let child = libc.fork(pid).unwrap();
    libc.printf(child, "child\n", &[]).unwrap();
    libc.exit(child, 3).unwrap();
    let ended = Some((child, vmlab_kernel::ExitStatus::Exited(3)));
    assert_eq!(libc.wait(pid, None).unwrap(), ended);
    libc.exit(pid, 0).unwrap();
    assert_eq!(
        file(&mut libc, "twice"),
        b"before fork\nchild\nbefore fork\n"
    );
    // Flushing first writes it once.
    let (mut libc, pid) = stdout_to("once");
    libc.printf(pid, "before fork\n", &[]).unwrap();
    libc.fflush(pid, 0).unwrap();
    let child = libc.fork(pid).unwrap();
    libc.exit(child, 0).unwrap();
    libc.exit(pid, 0).unwrap();
    assert_eq!(file(&mut libc, "once"), b"before fork\n");
    assert!(matches!(
        libc.wait(pid, None),
        Err(LibcError::NotStarted(_))
    ));
}

#[test]
fn execve_discards_unflushed_output() {
    let (mut libc, pid) = stdout_to("exec");
    libc.printf(pid, "gone", &[]).unwrap();
    libc.execve(pid).unwrap();
    libc.printf(pid, "new program\n", &[]).unwrap();
    libc.exit(pid, 0).unwrap();
    assert_eq!(file(&mut libc, "exec"), b"new program\n");
}

#[test]
fn fwrite_and_fread_round_trip_through_buffers() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let buf = libc.malloc(pid, data.len() as u64).unwrap();
    libc.write_bytes(pid, buf, &data).unwrap();
    let f = libc.fopen(pid, "data", "w").unwrap();
    libc.fwrite(pid, buf, 1, 100, f).unwrap();
    assert_eq!(libc.accounting().syscall("write"), 0);
    // 9900 more: 3996 fill the buffer, which goes out, then one whole
    // buffer straight from memory; 1808 stay buffered until fclose.
    assert_eq!(libc.fwrite(pid, buf + 100, 99, 100, f).unwrap(), 100);
    assert_eq!(libc.accounting().syscall("write"), 2);
    libc.fclose(pid, f).unwrap();
    assert_eq!(libc.accounting().syscall("write"), 3);
    assert_eq!(file(&mut libc, "data"), data);

    let back = libc.malloc(pid, data.len() as u64).unwrap();
    let f = libc.fopen(pid, "data", "r").unwrap();
    let reads = libc.accounting().syscall("read");
    assert_eq!(libc.fread(pid, back, 1, 10, f).unwrap(), 10);
    // One read filled the buffer; the next 4086 bytes come from it.
    assert_eq!(libc.fread(pid, back + 10, 1, 4086, f).unwrap(), 4086);
    assert_eq!(libc.accounting().syscall("read") - reads, 1);
    // Asking past the end gets what is there.
    assert_eq!(libc.fread(pid, back + 4096, 1, 10_000, f).unwrap(), 5904);
    let mut got = vec![0; data.len()];
    libc.read_bytes(pid, back, &mut got).unwrap();
    assert_eq!(got, data);
    assert_eq!(
        libc.fwrite(pid, back, 1, 1, f),
        Err(LibcError::Errno(Errno::Ebadf))
    );
    libc.fclose(pid, f).unwrap();
    assert_eq!(
        libc.fopen(pid, "missing", "r"),
        Err(LibcError::Errno(Errno::Enoent))
    );
    assert_eq!(
        libc.fopen(pid, "data", "z"),
        Err(LibcError::Errno(Errno::Einval))
    );
}

#[test]
fn writing_after_reading_goes_where_the_reading_stopped() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    libc.kernel_mut()
        .import_file("rw", b"0123456789abcdef".to_vec())
        .unwrap();
    let f = libc.fopen(pid, "rw", "r+").unwrap();
    let buf = libc.malloc(pid, 16).unwrap();
    // The first read took the whole file into the buffer.
    assert_eq!(libc.fread(pid, buf, 1, 4, f).unwrap(), 4);
    let xy = c_string(&mut libc, pid, "XY");
    libc.fputs(pid, xy, f).unwrap();
    // The read-ahead is given back with lseek; fflush writes at offset 4.
    assert_eq!(libc.accounting().syscall("lseek"), 1);
    libc.fflush(pid, f).unwrap();
    assert_eq!(file(&mut libc, "rw"), b"0123XY6789abcdef");
    libc.fclose(pid, f).unwrap();
}

#[test]
fn the_terminal_gives_no_input() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    let input = libc.stdin(pid).unwrap();
    let buf = libc.malloc(pid, 16).unwrap();
    assert_eq!(libc.fread(pid, buf, 1, 16, input).unwrap(), 0);
    // stdin cannot be written.
    assert_eq!(
        libc.fputc(pid, b'x', input),
        Err(LibcError::Errno(Errno::Ebadf))
    );
}

#[test]
fn fclose_frees_the_file_and_its_buffer() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    let f = libc.fopen(pid, "f", "a+").unwrap();
    let s = c_string(&mut libc, pid, "appended");
    libc.fputs(pid, s, f).unwrap();
    libc.free(pid, s).unwrap();
    libc.fclose(pid, f).unwrap();
    assert_eq!(file(&mut libc, "f"), b"appended");
    let info = libc.mallinfo2(pid).unwrap();
    assert_eq!(info.uordblks, 0);
    // stdout closes too; writing to it afterwards is EBADF.
    let out = libc.stdout(pid).unwrap();
    libc.fclose(pid, out).unwrap();
    assert_eq!(
        libc.printf(pid, "x", &[]),
        Err(LibcError::Errno(Errno::Ebadf))
    );
}

#[test]
fn printf_converts_like_glibc() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    let s = c_string(&mut libc, pid, "str");
    let n = libc
        .printf(
            pid,
            "%d %i %u %x %c %s %p %p %ld %zu %% %d %u %lx\n",
            &[
                Arg::Int(-42),
                Arg::Int(7),
                Arg::Int(-1),
                Arg::Uint(255),
                Arg::Char(b'z'),
                Arg::Str(s),
                Arg::Ptr(0x1234),
                Arg::Ptr(0),
                Arg::Int(-1 << 40),
                Arg::Uint(1 << 40),
                Arg::Int(1 << 32 | 5),
                Arg::Uint(u64::MAX),
                Arg::Int(-1),
            ],
        )
        .unwrap();
    let expected = "-42 7 4294967295 ff z str 0x1234 (nil) -1099511627776 1099511627776 % 5 4294967295 ffffffffffffffff\n";
    assert_eq!(
        String::from_utf8(libc.kernel().console()).unwrap(),
        expected
    );
    assert_eq!(n, expected.len() as u64);
}

#[test]
fn bad_formats_are_errors_naming_the_place() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    let at = |r: Result<u64, LibcError>| match r {
        Err(LibcError::Format { at, .. }) => at,
        other => panic!("expected a format error, got {other:?}"),
    };
    assert_eq!(at(libc.printf(pid, "ab %d", &[])), 3);
    assert_eq!(at(libc.printf(pid, "%s", &[Arg::Int(1)])), 0);
    assert_eq!(at(libc.printf(pid, "x %q", &[Arg::Int(1)])), 2);
    assert_eq!(at(libc.printf(pid, "%", &[])), 0);
}

#[test]
fn stderr_output_longer_than_its_scratch_buffer_takes_two_writes() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    let long = "e".repeat(10_000);
    let s = c_string(&mut libc, pid, &long);
    let err = libc.stderr(pid).unwrap();
    assert_eq!(
        libc.fprintf(pid, err, "%s", &[Arg::Str(s)]).unwrap(),
        10_000
    );
    assert_eq!(libc.accounting().syscall("write"), 2);
    assert_eq!(libc.kernel().console(), long.as_bytes());
}

#[derive(Clone, Debug)]
enum Put {
    Bytes(u16),
    Char(u8),
    Number(i64),
    Flush,
}

fn put() -> impl proptest::strategy::Strategy<Value = Put> {
    use proptest::prelude::*;
    prop_oneof![
        3 => (0..6000u16).prop_map(Put::Bytes),
        2 => any::<u8>().prop_map(Put::Char),
        2 => any::<i64>().prop_map(Put::Number),
        1 => Just(Put::Flush),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]

    #[test]
    fn a_file_stream_writes_what_was_put_in_few_writes(puts in proptest::collection::vec(put(), 1..40)) {
        let (mut libc, pid) = on_terminal(MallocConfig::default());
        let source = libc.malloc(pid, 6000).unwrap();
        let pattern: Vec<u8> = (0..6000u32).map(|i| (i % 253) as u8).collect();
        libc.write_bytes(pid, source, &pattern).unwrap();
        let f = libc.fopen(pid, "model", "w").unwrap();
        let mut model = Vec::new();
        let mut flushes = 0;
        for p in puts {
            match p {
                Put::Bytes(n) => {
                    libc.fwrite(pid, source, 1, u64::from(n), f).unwrap();
                    model.extend_from_slice(&pattern[..usize::from(n)]);
                }
                Put::Char(c) => {
                    libc.fputc(pid, c, f).unwrap();
                    model.push(c);
                }
                Put::Number(v) => {
                    libc.fprintf(pid, f, "<%ld>", &[Arg::Int(v)]).unwrap();
                    model.extend_from_slice(format!("<{v}>").as_bytes());
                }
                Put::Flush => {
                    libc.fflush(pid, f).unwrap();
                    flushes += 1;
                }
            }
        }
        libc.fclose(pid, f).unwrap();
        proptest::prop_assert_eq!(file(&mut libc, "model"), model.clone());
        // Each write but those a flush forced moves at least a buffer's
        // worth: at most one per 4096 bytes, plus the flushes and fclose.
        let writes = libc.accounting().syscall("write");
        proptest::prop_assert!(writes <= model.len() as u64 / 4096 + flushes + 1);
    }
}
