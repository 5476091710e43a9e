//! Scenario scripts end to end: each test runs a small Rhai script as a
//! simulated process and checks what it did (through its own assertions,
//! its transcript, the files it left and the kernel's counters), and that
//! a bad script ends with an error naming its line and column.
#![allow(clippy::unwrap_used)]

use vmlab_hw::arch::presets;
use vmlab_kernel::{ExitStatus, Kernel, KernelConfig, Personality, SignalKind};
use vmlab_workload::script::{
    run_file, run_source, Assertions, ScriptError, ScriptOptions, ScriptOutcome,
};

fn kernel_with(personality: Personality, frames: usize) -> Kernel {
    let mut config = KernelConfig::new(presets::by_name("x86-64").unwrap().unwrap(), frames);
    config.personality = personality;
    Kernel::new(config).unwrap()
}

fn run(source: &str) -> ScriptOutcome {
    match run_source(
        kernel_with(Personality::Linux, 256),
        "test.rhai",
        source,
        &ScriptOptions::default(),
    ) {
        Ok(outcome) => outcome,
        Err(e) => panic!("{e}"),
    }
}

fn error_of(source: &str, options: &ScriptOptions) -> (usize, usize, String) {
    match run_source(
        kernel_with(Personality::Linux, 256),
        "bad.rhai",
        source,
        options,
    ) {
        Err(ScriptError::At {
            file,
            line,
            column,
            message,
        }) => {
            assert_eq!(file, "bad.rhai");
            (line, column, message)
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("the script ran"),
    }
}

const ANON: &str = "PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0";

#[test]
fn fork_runs_the_body_as_a_child_with_copy_on_write_memory() {
    let out = run(&format!(
        r#"
        let p = mmap(0, PAGE_SIZE, {ANON});
        store64(p, 1);
        let before = counters().cow_copies;
        let x = 10;
        let child = fork(|| {{
            assert(getpid() != 1, "the body runs as the child");
            assert_eq(load64(p), 1);
            store64(p, 2);
            assert_eq(load64(p), 2);
            x = 11;
            exit(7);
        }});
        assert_eq(load64(p), 1, "the parent keeps its page");
        assert_eq(x, 10, "script variables are copied too");
        assert_eq(counters().cow_copies - before, 1);
        let w = wait();
        assert_eq(w.pid, child);
        assert(WIFEXITED(w.status));
        assert_eq(WEXITSTATUS(w.status), 7);
        assert_eq(w.reason, "exit 7");
        assert_eq(wait().pid, -ECHILD);
        print(`child ${{child}} done`);
    "#
    ));
    assert_eq!(out.status, ExitStatus::Exited(0));
    assert_eq!(out.transcript, "child 2 done\n");
}

#[test]
fn a_signal_ends_only_the_child_and_its_parent_sees_it_in_wait() {
    let out = run(&format!(
        r#"
        let p = mmap(0, 2 * PAGE_SIZE, {ANON});
        assert_eq(munmap(p + PAGE_SIZE, PAGE_SIZE), 0);
        fork(|| {{
            store8(p, 1);
            load8(p + PAGE_SIZE);
            print("not reached: the load ended the child");
        }});
        let w = wait();
        assert(WIFSIGNALED(w.status));
        assert_eq(WTERMSIG(w.status), SIGSEGV);
        assert(w.reason.contains("SEGV_MAPERR"), w.reason);

        assert_eq(mprotect(p, PAGE_SIZE, PROT_READ), 0);
        fork(|| {{ assert_eq(load8(p), 0); store8(p, 1); }});
        let w = wait();
        assert_eq(WTERMSIG(w.status), SIGSEGV);
        assert(w.reason.contains("SEGV_ACCERR"), w.reason);
        print("parent goes on");
    "#
    ));
    assert_eq!(out.transcript, "parent goes on\n");
    assert_eq!(out.kernel.counters().segfaults, 2);
}

#[test]
fn a_signal_in_the_first_process_ends_the_script_without_an_error() {
    let out = run("print(\"before\"); load8(16); print(\"after\");");
    assert_eq!(out.transcript, "before\n");
    match out.status {
        ExitStatus::Signaled(s) => assert_eq!(s.kind, SignalKind::Sigsegv),
        other => panic!("{other:?}"),
    }
    assert!(out.status_text().starts_with("SIGSEGV"));
}

#[test]
fn under_pintos_a_bad_access_is_exit_status_minus_one() {
    let out = run_source(
        kernel_with(Personality::Pintos, 256),
        "t.rhai",
        "fork(|| load8(16)); let w = wait(); assert(WIFEXITED(w.status)); assert_eq(WEXITSTATUS(w.status), 255);",
        &ScriptOptions::default(),
    )
    .unwrap();
    assert_eq!(out.status, ExitStatus::Exited(0));
}

#[test]
fn exit_cannot_be_caught_and_ends_the_first_process() {
    let out = run("try { exit(3); } catch { print(\"caught\"); } print(\"after\");");
    assert_eq!(out.transcript, "");
    assert_eq!(out.status, ExitStatus::Exited(3));
}

#[test]
fn files_round_trip_through_open_write_lseek_read() {
    let mut out = run(&format!(
        r#"
        let fd = open("/data", O_RDWR | O_CREAT, 0o644);
        assert_eq(fd, 3, "0, 1 and 2 are the console");
        let buf = mmap(0, PAGE_SIZE, {ANON});
        assert_eq(store_str(buf, "hello, file"), 11);
        assert_eq(write(fd, buf, 11), 11);
        assert_eq(lseek(fd, 7, SEEK_SET), 7);
        assert_eq(read(fd, buf + 100, 100), 4);
        assert_eq(load_str(buf + 100, 4), "file");
        assert_eq(read(fd, buf, 100), 0, "end of file");
        assert_eq(ftruncate(fd, 5), 0);
        assert_eq(lseek(fd, 0, SEEK_END), 5);
        assert_eq(close(fd), 0);
        let again = open("/data", O_RDONLY);
        assert_eq(read(again, buf + 200, 100), 5);
        assert_eq(load_str(buf + 200, 5), "hello");
        assert_eq(write(again, buf, 1), -EBADF, "read-only descriptor");
        print("done");
    "#
    ));
    assert_eq!(out.kernel.export_file("/data").unwrap(), b"hello");
    assert_eq!(
        out.kernel.console(),
        b"done\n",
        "print writes to descriptor 1"
    );
}

#[test]
fn brk_grows_and_shrinks_the_heap() {
    run(r#"
        let start = brk(0);
        assert(start > 0);
        assert_eq(brk(start + 3 * PAGE_SIZE), start + 3 * PAGE_SIZE);
        store64(start + 2 * PAGE_SIZE, 0x1234_5678_9abc_def0);
        assert_eq(load64(start + 2 * PAGE_SIZE), 0x1234_5678_9abc_def0);
        assert_eq(brk(start + PAGE_SIZE), start + PAGE_SIZE);
        fork(|| load8(start + 2 * PAGE_SIZE));
        assert_eq(WTERMSIG(wait().status), SIGSEGV, "past the break is unmapped");
    "#);
}

#[test]
fn failed_calls_return_minus_errno_and_set_errno() {
    run(&format!(
        r#"
        assert_eq(errno(), 0);
        assert_eq(close(99), -EBADF);
        assert_eq(errno(), EBADF);
        assert_eq(errno_name(close(99)), "EBADF");
        assert_eq(mmap(0, 0, {ANON}), -EINVAL);
        assert_eq(errno_name(errno()), "EINVAL");
        assert_eq(munmap(1, PAGE_SIZE), -EINVAL);
        assert_eq(open("/missing", O_RDONLY), -ENOENT);
        assert_eq(mprotect(0x1000_0000, PAGE_SIZE, PROT_READ), -ENOMEM);
        assert_eq(mprotect(0, PAGE_SIZE, 0x40), -EINVAL);
        assert_eq(lseek(0, 0, SEEK_SET), -ESPIPE, "the terminal has no file position");
        assert_eq(waitpid(42).pid, -ECHILD);
        let child = fork(|| exit(5));
        let w = waitpid(-1);
        assert_eq(w.pid, child, "-1 is any child");
    "#
    ));
}

#[test]
fn bulk_operations_match_byte_by_byte_stores() {
    // A plain model: the same bytes stored one at a time in a script array.
    run(&format!(
        r#"
        let p = mmap(0, 4 * PAGE_SIZE, {ANON});
        fill(p + 100, 2 * PAGE_SIZE, 0xab);
        assert_eq(load8(p + 99), 0);
        assert_eq(load8(p + 100), 0xab);
        assert_eq(load8(p + 100 + 2 * PAGE_SIZE - 1), 0xab);
        assert_eq(load8(p + 100 + 2 * PAGE_SIZE), 0);
        for i in 0..10 {{ store8(p + i, i + 1); }}
        copy(p + 3, p, 10);
        let model = [1, 2, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        for i in 0..13 {{ assert_eq(load8(p + i), model[i]); }}
        copy(p, p + 3, 10);
        let model = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 8, 9, 10];
        for i in 0..13 {{ assert_eq(load8(p + i), model[i]); }}
        copy(p + 3 * PAGE_SIZE, p, PAGE_SIZE);
        assert_eq(compare(p, p + 3 * PAGE_SIZE, PAGE_SIZE), 0);
        store8(p + 3 * PAGE_SIZE + 50, 0xff);
        assert_eq(compare(p, p + 3 * PAGE_SIZE, PAGE_SIZE), -1);
        assert_eq(compare(p + 3 * PAGE_SIZE, p, PAGE_SIZE), 1);
        let q = mmap(0, 8 * PAGE_SIZE, {ANON});
        let before = counters();
        assert_eq(touch(q, 8 * PAGE_SIZE, PAGE_SIZE, false), 8);
        assert_eq(counters().zero_page_maps - before.zero_page_maps, 8);
        assert_eq(touch(q, 8 * PAGE_SIZE, 2 * PAGE_SIZE, true), 4);
        assert_eq(counters().zero_fills - before.zero_fills, 4);
    "#
    ));
}

#[test]
fn bulk_operation_arguments_are_checked() {
    let (line, column, message) = error_of(
        "let p = 0;\ntouch(p, 10, 0, false);",
        &ScriptOptions::default(),
    );
    assert_eq!((line, column), (2, 1));
    assert_eq!(message, "touch: stride 0 is not positive");
    let (_, _, message) = error_of("fill(0, -1, 0);", &ScriptOptions::default());
    assert_eq!(message, "fill: length -1 is negative");
    let (_, _, message) = error_of("fill(0, 1, 256);", &ScriptOptions::default());
    assert_eq!(message, "fill: byte 256 is not in 0..=255");
}

#[test]
fn posix_spawn_starts_a_new_program_with_its_own_address_space() {
    let out = run(&format!(
        r#"
        let p = mmap(0, PAGE_SIZE, {ANON});
        store8(p, 5);
        posix_spawn(|| load8(p));
        let w = wait();
        assert_eq(WTERMSIG(w.status), SIGSEGV, "the parent's mapping is not there");
        assert_eq(load8(p), 5);
        let child = posix_spawn(|| {{ print("child speaks"); exit(4); }});
        assert_eq(WEXITSTATUS(waitpid(child).status), 4);
    "#
    ));
    assert_eq!(out.transcript, "child speaks\n");
}

#[test]
fn a_failed_assertion_names_its_line_and_column() {
    let (line, column, message) = error_of(
        "let a = 1;\nlet b = 2;\n  assert(a == b, \"a and b differ\");",
        &ScriptOptions::default(),
    );
    assert_eq!((line, column), (3, 3));
    assert_eq!(message, "assertion failed: a and b differ");
    let (line, column, message) = error_of("\nassert_eq(1 + 1, 3);", &ScriptOptions::default());
    assert_eq!((line, column), (2, 1));
    assert_eq!(
        message,
        "assertion failed: left == right (left: 2, right: 3)"
    );
}

#[test]
fn an_error_inside_a_child_body_points_into_the_body() {
    let (line, column, message) = error_of(
        "fork(|| {\n    let x = 1;\n    assert(x == 2, \"in the child\");\n});",
        &ScriptOptions::default(),
    );
    assert_eq!((line, column), (3, 5));
    assert_eq!(message, "assertion failed: in the child");
}

#[test]
fn fork_without_a_body_says_how_to_give_one() {
    let (line, column, message) =
        error_of("let x = 1;\nlet pid = fork();", &ScriptOptions::default());
    assert_eq!((line, column), (2, 11));
    assert!(
        message.starts_with("fork needs the child's body: fork(|| { ... })"),
        "{message}"
    );
}

#[test]
fn a_syntax_error_names_its_line_and_column() {
    let (line, column, message) = error_of("let x = 1;\nlet y = (x + ;", &ScriptOptions::default());
    assert_eq!(line, 2);
    assert!(column > 0);
    assert!(!message.is_empty());
}

#[test]
fn a_runaway_loop_is_stopped_by_the_operation_limit() {
    let options = ScriptOptions {
        max_operations: 10_000,
        ..ScriptOptions::default()
    };
    let (line, _, message) = error_of("let i = 0;\nloop { i += 1; }", &options);
    assert_eq!(line, 2);
    assert!(message.contains("Too many operations"), "{message}");
    let (_, _, message) = error_of("fn f(n) { f(n + 1) }\nf(0);", &options);
    assert!(message.contains("Stack overflow"), "{message}");
}

#[test]
fn bulk_operations_have_a_limit_of_their_own() {
    let options = ScriptOptions {
        max_bulk_accesses: 100,
        ..ScriptOptions::default()
    };
    let source = format!(
        "let p = mmap(0, 1 << 30, {ANON});\ntouch(p, 60, 1, false);\ntouch(p, 1 << 30, PAGE_SIZE, false);"
    );
    let (line, column, message) = error_of(&source, &options);
    assert_eq!((line, column), (3, 1));
    assert_eq!(
        message,
        "touch: 262144 accesses exceed what is left of the script's limit on bulk accesses (40)"
    );
}

#[test]
fn a_missing_script_file_is_named() {
    let err = run_file(
        kernel_with(Personality::Linux, 64),
        std::path::Path::new("/nonexistent/x.rhai"),
        &ScriptOptions::default(),
    )
    .err()
    .unwrap();
    assert!(err
        .to_string()
        .starts_with("/nonexistent/x.rhai: cannot read the script"));
}

/// Every example scenario runs green (on its own machine file when it has
/// one): its own assertions are the test.
#[test]
fn example_scripts_pass_their_assertions() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/scripts");
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .collect();
    names.sort();
    assert!(names.len() >= 4, "{names:?}");
    for path in names {
        // A script that brings its own machine file runs on that machine.
        let machine = path.with_extension("toml");
        let config = if machine.exists() {
            vmlab_kernel::machine::load_machine_file(&machine)
                .and_then(|spec| spec.config())
                .unwrap()
        } else {
            let mut config = KernelConfig::new(presets::by_name("x86-64").unwrap().unwrap(), 256);
            config.swap_slots = 4096;
            config
        };
        let out = run_file(
            Kernel::new(config).unwrap(),
            &path,
            &ScriptOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.status, ExitStatus::Exited(0), "{}", path.display());
        assert!(!out.transcript.is_empty(), "{} prints", path.display());
    }
}

#[test]
fn nested_forks_run_depth_first_and_each_parent_waits_for_its_own_child() {
    let out = run(r#"
        print(`1: ${getpid()}`);
        let child = fork(|| {
            print(`2: ${getpid()}`);
            let grandchild = fork(|| { print(`3: ${getpid()}`); exit(3); });
            let w = wait();
            assert_eq(w.pid, grandchild);
            assert_eq(WEXITSTATUS(w.status), 3);
            exit(2);
        });
        print("4: back in the parent");
        let w = wait();
        assert_eq(w.pid, child);
        assert_eq(WEXITSTATUS(w.status), 2);
        assert_eq(wait().pid, -ECHILD, "the grandchild was its parent's to collect");
    "#);
    assert_eq!(out.transcript, "1: 1\n2: 2\n3: 3\n4: back in the parent\n");
}

#[test]
fn shared_mappings_are_shared_with_the_child_and_private_ones_are_not() {
    run(r#"
        let common = mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        let own = mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        fork(|| { store32(common, 0xbeef); store32(own, 0xbeef); });
        wait();
        assert_eq(load32(common), 0xbeef, "MAP_SHARED: the child's store is seen");
        assert_eq(load32(own), 0, "MAP_PRIVATE: it is not");
    "#);
}

#[test]
fn madvise_msync_and_execve_reach_the_kernel() {
    let mut out = run(r#"
        let p = mmap(0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        store64(p, 99);
        assert_eq(madvise(p, PAGE_SIZE, MADV_DONTNEED), 0);
        assert_eq(load64(p), 0, "MADV_DONTNEED drops private anonymous pages");
        assert_eq(madvise(p, PAGE_SIZE, 99), -EINVAL);

        let fd = open("/mapped", O_RDWR | O_CREAT, 0o600);
        assert_eq(ftruncate(fd, PAGE_SIZE), 0);
        let m = mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        store_str(m, "synced");
        assert_eq(msync(m, PAGE_SIZE, MS_SYNC), 0);
        assert_eq(msync(m, PAGE_SIZE, MS_SYNC | MS_ASYNC), -EINVAL);

        assert_eq(execve(), 0);
        let gone = fork(|| load64(p));
        assert_eq(WTERMSIG(waitpid(gone).status), SIGSEGV, "execve replaced the address space");
        assert_eq(lseek(fd, 0, SEEK_END), PAGE_SIZE, "and kept the descriptors");
        print("after execve");
    "#);
    assert_eq!(&out.kernel.export_file("/mapped").unwrap()[..6], b"synced");
    assert_eq!(out.transcript, "after execve\n");
}

#[test]
fn counters_and_machine_describe_the_run() {
    let out = run(r#"
        let m = machine();
        assert_eq(m.frames, 256);
        assert_eq(m.page_size, PAGE_SIZE);
        assert_eq(m.personality, "linux");
        assert_eq(m.policy, "lru");
        assert_eq(m.scope, "global");
        let before = counters().syscalls;
        getpid();
        close(42);
        assert_eq(counters().syscalls - before, 2, "failed calls count too");
        let p = mmap(0, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        let resident = resident_pages();
        fill(p, 4 * PAGE_SIZE, 1);
        assert_eq(resident_pages() - resident, 4);
    "#);
    assert!(out.kernel.counters().syscalls >= 6);
}

fn console(out: &ScriptOutcome) -> String {
    String::from_utf8_lossy(&out.kernel.console()).into_owned()
}

#[test]
fn malloc_calloc_realloc_and_free_work_on_the_processs_heap() {
    let out = run(r#"
        let p = malloc(100);
        assert(p != NULL && p % 16 == 0, "16-byte aligned");
        assert_eq(malloc_usable_size(p), 104, "a 112-byte chunk less its 8-byte header");
        store64(p, 0x1234);
        let q = realloc(p, 5000);
        assert_eq(load64(q), 0x1234, "realloc keeps the contents");
        let z = calloc(10, 8);
        assert_eq(load64(z + 72), 0, "calloc zeroes");
        free(q);
        free(z);
        free(NULL);
        let c = counters();
        assert_eq(c.library_calls.malloc, 1);
        assert_eq(c.library_calls.free, 3);
        assert_eq(c.system_calls.brk, 2, "startup's brk(0), then the first malloc's");
        assert_eq(malloc(1 << 62), NULL, "too large");
        assert_eq(errno(), ENOMEM);
    "#);
    assert_eq!(out.accounting.library("realloc"), 1);
    assert_eq!(out.accounting.library("calloc"), 1);
}

#[test]
fn freeing_a_pointer_malloc_did_not_return_is_a_script_error() {
    let (line, column, message) = error_of(
        "let p = malloc(32);\nfree(p + 8);",
        &ScriptOptions::default(),
    );
    assert_eq!((line, column), (2, 1));
    assert!(message.starts_with("free(): invalid pointer"), "{message}");
}

#[test]
fn stdio_writes_and_reads_a_file_through_its_buffer() {
    let mut out = run(r#"
        let f = fopen("/notes", "w");
        assert(f != NULL);
        let s = malloc(16);
        store_str(s, "pages\x00");
        assert_eq(fputs(s, f), 0);
        assert_eq(fputc(0x21, f), 0x21);
        assert_eq(fprintf(f, " %d %s %x|", 42, "frames", 255), 14);
        assert_eq(fwrite(s, 1, 5, f), 5);
        let c = counters();
        assert_eq(c.system_calls.write, 0, "nothing written while the buffer has room");
        assert_eq(fflush(f), 0);
        assert_eq(counters().system_calls.write, 1);
        assert_eq(fclose(f), 0);

        let f = fopen("/notes", "r");
        let buf = calloc(1, 64);
        assert_eq(fread(buf, 1, 64, f), 25, "fewer items at the end of the file");
        assert_eq(load_str(buf, 25), "pages! 42 frames ff|pages");
        assert_eq(fclose(f), 0);
        assert_eq(fopen("/missing", "r"), NULL);
        assert_eq(errno(), ENOENT);
        assert_eq(fclose(f), EOF, "a closed stream");
        assert_eq(counters().library_calls.fopen, 3);
    "#);
    assert_eq!(
        out.kernel.export_file("/notes").unwrap(),
        b"pages! 42 frames ff|pages"
    );
}

#[test]
fn printf_writes_a_line_at_a_time_to_the_terminal() {
    let out = run(r#"
        let before = counters();
        printf("%d pages of %s\n", 3, "memory");
        printf("%d%% of %s", [50, "frames"]);
        fprintf(stdout, " and %c\n", 'x');
        fprintf(stderr, "unbuffered %p", 0);
        let c = counters();
        assert_eq(c.library_calls.printf - before.library_calls.printf, 2);
        assert_eq(c.library_calls.fprintf, 2);
        assert_eq(c.system_calls.write - before.system_calls.write, 3);
        print("the script's print is printf too");
        assert_eq(counters().library_calls.printf - c.library_calls.printf, 1);
    "#);
    assert_eq!(
        console(&out),
        "3 pages of memory\n50% of frames and x\nunbuffered (nil)the script's print is printf too\n"
    );
    assert_eq!(out.transcript, "the script's print is printf too\n");
}

#[test]
fn a_format_that_disagrees_with_its_arguments_is_a_script_error() {
    let (line, _, message) = error_of(
        "print(\"ok\");\nprintf(\"%d\\n\", \"x\");",
        &ScriptOptions::default(),
    );
    assert_eq!(line, 2);
    assert_eq!(
        message,
        "printf: format byte 0: %d takes an integer, not a string"
    );
}

#[test]
fn string_routines_run_on_simulated_memory() {
    let out = run(r#"
        let a = malloc(64);
        let b = malloc(64);
        store_str(a, "virtual\x00");
        assert_eq(strlen(a), 7);
        assert_eq(strcpy(b, a), b);
        assert_eq(strcmp(a, b), 0);
        store8(b, 0x77);
        assert(strcmp(a, b) < 0, "'v' < 'w'");
        assert_eq(memset(b, 0x41, 3), b);
        assert_eq(load_str(b, 4), "AAAt");
        assert_eq(memcpy(b, a, 8), b);
        assert_eq(memcmp(a, b, 8), 0);
        assert_eq(load_str(b, 7), "virtual");
    "#);
    for name in ["strlen", "strcpy", "memset", "memcpy", "memcmp"] {
        assert!(out.accounting.library(name) >= 1, "{name}");
    }
    assert_eq!(out.accounting.library("strcmp"), 2);
}

#[test]
fn exit_flushes_the_streams_and_underscore_exit_does_not() {
    let mut out = run(r#"
        fork(|| {
            let f = fopen("/kept", "w");
            fprintf(f, "flushed by exit");
            exit(0);
        });
        fork(|| {
            let f = fopen("/lost", "w");
            fprintf(f, "lost by _exit");
            _exit(0);
        });
        fork(|| {
            let f = fopen("/flushed", "w");
            fprintf(f, "flushed by fflush(NULL)");
            assert_eq(fflush(NULL), 0);
            _exit(0);
        });
        fork(|| {
            let f = fopen("/returned", "w");
            fprintf(f, "a body that returns exits");
        });
        printf("no newline yet");
        _exit(0);
    "#);
    assert_eq!(out.kernel.export_file("/kept").unwrap(), b"flushed by exit");
    assert_eq!(out.kernel.export_file("/lost").unwrap(), b"");
    assert_eq!(
        out.kernel.export_file("/flushed").unwrap(),
        b"flushed by fflush(NULL)"
    );
    assert_eq!(
        out.kernel.export_file("/returned").unwrap(),
        b"a body that returns exits"
    );
    assert_eq!(console(&out), "");
}

#[test]
fn output_buffered_before_fork_is_written_by_parent_and_child() {
    let out = run(r#"
        printf("hello ");
        let child = fork(|| {});
        waitpid(child);
        printf("world\n");
    "#);
    assert_eq!(console(&out), "hello hello world\n");
}

#[test]
fn counters_split_system_calls_library_calls_and_time() {
    let out = run(r#"
        let buf = malloc(16);
        store_str(buf, "x\n");
        let before = counters();
        for i in 0..10 { write(1, buf, 2); }
        let after = counters();
        assert_eq(after.system_calls.write - before.system_calls.write, 10, "raw calls are counted by name");
        assert_eq(after.mode_switches - before.mode_switches, 20, "two crossings per call");
        assert(after.kernel_ns > before.kernel_ns);
        assert_eq(after.time_ns, after.user_ns + after.kernel_ns + after.disk_ns);
        assert_eq(after.library_calls.malloc, 1, "write is a system call, not a library call");
    "#);
    assert_eq!(
        out.accounting.syscall_total(),
        out.accounting.system_calls.values().sum::<u64>()
    );
    assert!(out.time.user_ns > 0.0 && out.time.kernel_ns > 0.0);
}

#[test]
fn posix_spawn_starts_a_fresh_library_and_execve_restarts_it() {
    run(r#"
        let p = malloc(16);
        posix_spawn(|| {
            let before = counters().system_calls.brk;
            malloc(16);
            assert_eq(counters().system_calls.brk - before, 1, "a new program's heap starts empty");
        });
        assert_eq(execve(), 0);
        let q = malloc(16);
        assert(q != NULL);
    "#);
}

#[test]
fn a_reference_string_runs_on_a_fresh_replacement_model() {
    run(r#"
        let refs = [1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5];
        let r = run_reference_string(#{policy: "fifo", frames: 3}, refs);
        assert_eq(r.faults, 9);
        assert_eq(r.hits, 3);
        assert_eq(r.references, 12);
        assert_eq(r.evictions, 6);
        assert_eq(r.faulted, [true, true, true, true, true, true, true, false, false, true, true, false]);
        assert_eq(r.resident, [5, 3, 4], "by frame: 5 took 4's frame, 3 took 1's, 4 took 2's");
        assert_eq(run_reference_string(#{policy: "fifo", frames: 4}, refs).faults, 10);
        assert_eq(run_reference_string(#{policy: "opt", frames: 3}, refs).faults, 7);
        assert_eq(run_reference_string(#{frames: 4}, refs).policy, "lru");
    "#);
    let options = ScriptOptions::default();
    let (_, _, message) = error_of("run_reference_string(#{frames: 0}, [1]);", &options);
    assert_eq!(
        message,
        "run_reference_string: frames: expected an integer of at least 1, found 0"
    );
    let (_, _, message) = error_of("run_reference_string(#{frames: 2}, [1, -2]);", &options);
    assert_eq!(
        message,
        "run_reference_string: reference 1: expected a page number, found -2"
    );
    let (_, _, message) = error_of(
        "run_reference_string(#{policy: \"mru\", frames: 2}, [1]);",
        &options,
    );
    assert!(
        message.starts_with("run_reference_string: policy: unknown replacement policy"),
        "{message}"
    );
}

#[test]
fn compare_schemes_runs_an_allocation_workload_under_both_schemes() {
    run(r#"
        let r = compare_schemes("allocs:n=300,min=1K,max=8K,live=20,seed=3",
                                #{mem: "1M", allocators: ["first"], page_sizes: [4096]});
        assert_eq(r.len(), 2);
        assert_eq(r[0].scheme, "segmentation");
        assert_eq(r[1].scheme, "paging");
        assert_eq(r[0].allocations, 300);
        assert_eq(r[0].last.internal_bytes, 0, "a segment is exactly the object");
        assert(r[1].last.internal_bytes > 0, "a page rounds the object up");
    "#);
    let options = ScriptOptions::default();
    let (_, _, message) = error_of(
        "compare_schemes(\"allocs:n=1,min=1,max=1,live=1\", #{page_sizes: [3000]});",
        &options,
    );
    assert_eq!(
        message,
        "compare_schemes: page_sizes: expected page sizes the machine's scheme (x86-64) has, found 3000"
    );
    let (_, _, message) = error_of("compare_schemes(\"allocs:n=1\", #{});", &options);
    assert!(
        message.starts_with("compare_schemes: workload:"),
        "{message}"
    );
    // A billion events ran for many minutes inside one Rhai operation.
    let (_, _, message) = error_of(
        "compare_schemes(\"allocs:n=1000000000,min=1K,max=4K,live=2\", #{page_sizes: [4096]});",
        &options,
    );
    assert_eq!(
        message,
        "compare_schemes: 1000000000 events of 9 accesses each under 6 configurations are \
         54000000000 steps, more than one call may take (100000000); `vmlab compare` runs larger workloads"
    );
}

/// An array doubled in a loop took the host's memory and the process
/// aborted ("memory allocation of ... bytes failed"): Rhai's arrays have
/// a size limit now, reported at the line that passes it.
#[test]
fn an_array_doubled_without_end_is_stopped_at_its_line() {
    let (line, _, message) = error_of(
        "let a = [0];\nfor i in 0..40 { a = a + a; }",
        &ScriptOptions::default(),
    );
    assert_eq!(line, 2);
    assert!(message.contains("array"), "{message}");
    let (line, _, _) = error_of(
        "let m = #{};\nlet b = blob(1_000_000_000_000);",
        &ScriptOptions::default(),
    );
    assert_eq!(line, 2);
}

/// The C library's memset, memcpy and memcmp draw on the bulk limit as
/// fill, copy and compare do: a 4 TiB memset held a host buffer of its
/// size (an abort), and uncharged it would run for hours.
#[test]
fn the_c_librarys_bulk_routines_draw_on_the_bulk_limit() {
    let source = format!(
        "let p = mmap(0, 1 << 43, {ANON});\nmemset(p, 7, 1 << 20);\nmemset(p, 7, 1 << 42);"
    );
    let (line, column, message) = error_of(&source, &ScriptOptions::default());
    assert_eq!((line, column), (3, 1));
    assert!(
        message.starts_with("memset: 1073741825 accesses exceed what is left"),
        "{message}"
    );
    for call in [
        "memcpy(p, p + (1 << 42), 1 << 41)",
        "memcmp(p, p + (1 << 42), 1 << 41)",
    ] {
        let source = format!("let p = mmap(0, 1 << 43, {ANON});\n{call};");
        let (line, _, message) = error_of(&source, &ScriptOptions::default());
        assert_eq!(line, 2);
        assert!(message.contains("1073741826 accesses exceed"), "{message}");
    }
}

#[test]
fn counted_assertions_let_the_script_go_on_and_name_the_first() {
    let source = "fn check(x) {\n    assert(x > 1, \"big enough\");\n}\ncheck(1);\nassert_eq(1, 2);\nassert(true);\ncheck(0);\nprint(\"reached the end\");\n";
    let counting = ScriptOptions {
        assertions: Assertions::Count,
        ..ScriptOptions::default()
    };
    let outcome = run_source(
        kernel_with(Personality::Linux, 256),
        "test.rhai",
        source,
        &counting,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(outcome.transcript.contains("reached the end"));
    assert_eq!(outcome.status, ExitStatus::Exited(0));
    assert_eq!(outcome.failed_assertions, 3);
    // The first to fail, at its own place inside the function.
    let first = outcome.first_failed_assertion.expect("one failed");
    assert_eq!(
        first.to_string(),
        "test.rhai:2:5: assertion failed: big enough"
    );
    // Stopping, the default, ends the script at the same place.
    let (line, column, message) = error_of(source, &ScriptOptions::default());
    assert_eq!((line, column), (2, 5));
    assert_eq!(message, "assertion failed: big enough");
}
