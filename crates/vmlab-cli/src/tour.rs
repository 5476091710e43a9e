//! The built-in tour `vmlab run` gives with no workload: one short, real
//! experiment for each of the four questions vmlab answers, run on the
//! simulated machine, every number printed coming from that run.
//!
//! 1. Why virtual memory: two processes use the same address for
//!    different data (isolation); a process writes four times more memory
//!    than the machine has and reads it all back (swap); a forked child
//!    shares its parent's pages until it writes (copy-on-write).
//! 2. Paging vs segmentation: one allocation workload under first fit and a
//!    buddy allocator, and under 4 KiB and 2 MiB pages.
//! 3. Memory-mapped files: one file read with read(2) and through mmap.
//! 4. System calls vs library functions: printf to a file and to the
//!    terminal, and malloc against brk.

use crate::compare::{self, CompareArgs};
use crate::error::CliError;
use clap::Parser;
use std::fmt::Write as _;
use vmlab_hw::arch::presets;
use vmlab_hw::Arch;
use vmlab_kernel::abi::{MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, O_RDONLY};
use vmlab_kernel::cost::CostModel;
use vmlab_kernel::frames::Pid;
use vmlab_kernel::region::{PROT_READ, PROT_WRITE};
use vmlab_kernel::{Kernel, KernelConfig};
use vmlab_libc::{Arg, Libc, MallocConfig};

const PAGE: u64 = 4096;

/// A failure of the tour's own experiment: a bug, reported, not a panic.
fn failed(step: &str, e: impl std::fmt::Display) -> CliError {
    CliError(format!("tour: {step}: {e}"))
}

fn x86_64() -> Result<Arch, CliError> {
    match presets::by_name("x86-64") {
        Some(Ok(arch)) => Ok(arch),
        _ => Err(failed("machine", "no x86-64 scheme")),
    }
}

/// A machine of `frames` frames with swap for 8 times as many pages.
fn boot(frames: usize) -> Result<Kernel, CliError> {
    let mut config = KernelConfig::new(x86_64()?, frames);
    config.swap_slots = 8 * frames as u32;
    Kernel::new(config).map_err(|e| failed("machine", e))
}

/// Maps `pages` private anonymous pages (at `at` exactly, when given).
fn anonymous(k: &mut Kernel, pid: Pid, at: Option<u64>, pages: u64) -> Result<u64, CliError> {
    let flags = MAP_PRIVATE | MAP_ANONYMOUS | at.map_or(0, |_| MAP_FIXED);
    k.sys_mmap(
        pid,
        at.unwrap_or(0),
        pages * PAGE,
        PROT_READ | PROT_WRITE,
        flags,
        -1,
        0,
    )
    .map_err(|e| failed("mmap", e))
}

/// The whole tour as text.
pub fn tour() -> Result<String, CliError> {
    let mut out = String::from(
        "vmlab: a tour of a virtual-memory system (every number below comes from a run \
         on the simulated machine; `vmlab run --help` for your own workloads)\n",
    );
    why_virtual_memory(&mut out)?;
    paging_vs_segmentation(&mut out)?;
    memory_mapped_files(&mut out)?;
    system_calls_vs_library(&mut out)?;
    Ok(out)
}

fn why_virtual_memory(out: &mut String) -> Result<(), CliError> {
    let _ = writeln!(out, "\n1. Why virtual memory (x86-64, 4-level page tables)");
    let mut k = boot(256)?;
    let at = 0x1000_0000;
    let a = k.spawn(0).map_err(|e| failed("spawn", e))?;
    let b = k.spawn(0).map_err(|e| failed("spawn", e))?;
    for (pid, value) in [(a, 0xaaaa), (b, 0xbbbb)] {
        anonymous(&mut k, pid, Some(at), 1)?;
        k.store(pid, at, 8, value).map_err(|e| failed("store", e))?;
    }
    let read = |k: &mut Kernel, pid| k.load(pid, at, 8).map_err(|e| failed("load", e));
    let (va, vb) = (read(&mut k, a)?, read(&mut k, b)?);
    let _ = writeln!(
        out,
        "   isolation: processes {a} and {b} both store at {at:#x}; {a} reads back {va:#x}, {b} reads {vb:#x}:\n   \
         the same virtual address, two page tables, two frames"
    );

    let big = 1024;
    let mut k = boot(256)?;
    let pid = k.spawn(0).map_err(|e| failed("spawn", e))?;
    let base = anonymous(&mut k, pid, None, big)?;
    for i in 0..big {
        k.store(pid, base + i * PAGE, 8, i)
            .map_err(|e| failed("store", e))?;
    }
    let mut intact = 0;
    for i in 0..big {
        intact += u64::from(
            k.load(pid, base + i * PAGE, 8)
                .map_err(|e| failed("load", e))?
                == i,
        );
    }
    let c = k.counters();
    let _ = writeln!(
        out,
        "   more memory than RAM: {big} pages written on a machine of 256 frames; {intact} of {big} read back intact,\n   \
         through {} swap-outs and {} swap-ins (major faults {}) on a swap device of 2048 pages",
        c.swap_outs, c.swap_ins, c.major_faults
    );

    let small = 128;
    let mut k = boot(256)?;
    let pid = k.spawn(0).map_err(|e| failed("spawn", e))?;
    let base = anonymous(&mut k, pid, None, small)?;
    for i in 0..small {
        k.store(pid, base + i * PAGE, 8, i)
            .map_err(|e| failed("store", e))?;
    }
    let child = k.sys_fork(pid).map_err(|e| failed("fork", e))?;
    let before = k.counters();
    for i in 0..small {
        k.load(child, base + i * PAGE, 8)
            .map_err(|e| failed("load", e))?;
    }
    for i in 0..16 {
        k.store(child, base + i * PAGE, 8, 0)
            .map_err(|e| failed("store", e))?;
    }
    let c = k.counters();
    let parent_intact = (0..small)
        .map(|i| k.load(pid, base + i * PAGE, 8).map(|v| v == i))
        .collect::<Result<Vec<bool>, _>>()
        .map_err(|e| failed("load", e))?
        .into_iter()
        .all(|same| same);
    let _ = writeln!(
        out,
        "   sharing: a forked child reads all {small} pages of its parent and writes 16: {} pages copied on write,\n   \
         the other {} still shared; the parent's data {}",
        c.cow_copies - before.cow_copies,
        small - (c.cow_copies - before.cow_copies),
        if parent_intact { "is untouched" } else { "CHANGED (a bug)" }
    );
    Ok(())
}

/// `vmlab compare`'s flags, parsed as its command line would be.
#[derive(Parser)]
struct CompareLine {
    #[command(flatten)]
    args: CompareArgs,
}

fn paging_vs_segmentation(out: &mut String) -> Result<(), CliError> {
    let _ = writeln!(
        out,
        "\n2. Paging vs segmentation (2000 allocations of 1 KiB to 64 KiB, 200 live, in 8 MiB)"
    );
    let line = CompareLine::try_parse_from([
        "compare",
        "--workload",
        "allocs:n=2000,min=1K,max=64K,live=200,seed=1",
        "--allocators",
        "first,buddy",
        "--page-sizes",
        "4K,2M",
    ])
    .map_err(|e| failed("compare", e))?;
    let report = compare::report(&line.args)?;
    for s in &report.configs {
        let _ = writeln!(
            out,
            "   {:<26} failed {:>4}  external fragmentation {:.2}  internal {:.2}  tables {:>6} B  refs/access {:.2}",
            format!("{} {}", s.scheme, s.config),
            s.failed_allocations,
            s.mean_external_fragmentation,
            s.mean_internal_fragmentation,
            s.peak_table_bytes,
            s.references_per_access
        );
    }
    let _ = writeln!(
        out,
        "   segments leave holes between them (external); pages waste the tail of the last page (internal)"
    );
    Ok(())
}

fn memory_mapped_files(out: &mut String) -> Result<(), CliError> {
    let pages = 64;
    let _ = writeln!(
        out,
        "\n3. Memory-mapped files ({pages}-page file, read twice by each process)"
    );
    let mut k = boot(512)?;
    let contents: Vec<u8> = (0..pages * PAGE).map(|i| (i % 251) as u8).collect();
    k.import_file("data", contents)
        .map_err(|e| failed("import", e))?;
    let reader = k.spawn(0).map_err(|e| failed("spawn", e))?;
    let mapper = k.spawn(0).map_err(|e| failed("spawn", e))?;

    let before = k.counters();
    let fd = k
        .sys_open(reader, "data", O_RDONLY, 0)
        .map_err(|e| failed("open", e))?;
    let buf = anonymous(&mut k, reader, None, 1)?;
    for _ in 0..2 {
        k.sys_lseek(reader, fd, 0, vmlab_kernel::abi::SEEK_SET)
            .map_err(|e| failed("lseek", e))?;
        while k
            .sys_read(reader, fd, buf, PAGE)
            .map_err(|e| failed("read", e))?
            > 0
        {}
    }
    let r = k.counters();
    let _ = writeln!(
        out,
        "   read(2):  {} system calls, {} KiB copied from the page cache, {} disk reads",
        r.syscalls - before.syscalls,
        (r.user_copy_bytes - before.user_copy_bytes) / 1024,
        r.file_reads - before.file_reads
    );

    let before = k.counters();
    let fd = k
        .sys_open(mapper, "data", O_RDONLY, 0)
        .map_err(|e| failed("open", e))?;
    let at = k
        .sys_mmap(mapper, 0, pages * PAGE, PROT_READ, MAP_SHARED, fd, 0)
        .map_err(|e| failed("mmap", e))?;
    for _ in 0..2 {
        for i in 0..pages {
            k.load(mapper, at + i * PAGE, 8)
                .map_err(|e| failed("load", e))?;
        }
    }
    let m = k.counters();
    let _ = writeln!(
        out,
        "   mmap(2):  {} system calls, {} KiB copied, {} page faults (minor: the pages were cached), {} disk reads:\n   \
         the mapping is the page cache itself",
        m.syscalls - before.syscalls,
        (m.user_copy_bytes - before.user_copy_bytes) / 1024,
        (m.minor_faults + m.major_faults) - (before.minor_faults + before.major_faults),
        m.file_reads - before.file_reads
    );
    Ok(())
}

/// A started process under the C library, standard output on the
/// terminal or redirected to `file` as a shell's `> file` does.
fn libc_process(stdout_file: Option<&str>) -> Result<(Libc, Pid), CliError> {
    let mut k = boot(2048)?;
    let pid = k.spawn(0).map_err(|e| failed("spawn", e))?;
    k.attach_terminal(pid).map_err(|e| failed("terminal", e))?;
    if let Some(name) = stdout_file {
        use vmlab_kernel::abi::{O_CREAT, O_TRUNC, O_WRONLY};
        k.sys_close(pid, 1).map_err(|e| failed("close", e))?;
        k.sys_open(pid, name, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            .map_err(|e| failed("open", e))?;
    }
    let mut libc = Libc::new(k, MallocConfig::default());
    libc.start(pid).map_err(|e| failed("start", e))?;
    Ok((libc, pid))
}

fn system_calls_vs_library(out: &mut String) -> Result<(), CliError> {
    let _ = writeln!(
        out,
        "\n4. System calls vs library functions (vmlab-libc on the simulated kernel)"
    );
    let model = CostModel::default();
    for (target, file) in [("a file", Some("out.txt")), ("the terminal", None)] {
        let (mut libc, pid) = libc_process(file)?;
        let before = libc.accounting();
        for i in 0..1000 {
            libc.printf(pid, "line %d\n", &[Arg::Int(i)])
                .map_err(|e| failed("printf", e))?;
        }
        libc.exit(pid, 0).map_err(|e| failed("exit", e))?;
        let after = libc.accounting();
        let time = libc.time(&model);
        let _ = writeln!(
            out,
            "   1000 printf calls to {target:<12}: {} write system calls, {} user/kernel mode switches; \
             {:.1} µs user, {:.1} µs kernel, {:.1} µs disk",
            after.syscall("write") - before.syscall("write"),
            after.counts.mode_switches - before.counts.mode_switches,
            time.user_ns / 1e3,
            time.kernel_ns / 1e3,
            time.disk_ns / 1e3
        );
    }
    let (mut libc, pid) = libc_process(None)?;
    let before = libc.accounting();
    for _ in 0..1000 {
        libc.malloc(pid, 16).map_err(|e| failed("malloc", e))?;
    }
    libc.malloc(pid, 200 * 1024)
        .map_err(|e| failed("malloc", e))?;
    let after = libc.accounting();
    let _ = writeln!(
        out,
        "   1000 malloc(16) and one malloc(200 KiB): {} brk and {} mmap system calls;\n   \
         stdio buffers and malloc's free lists live in the process, the kernel is asked only for pages",
        after.syscall("brk") - before.syscall("brk"),
        after.syscall("mmap") - before.syscall("mmap")
    );
    Ok(())
}
