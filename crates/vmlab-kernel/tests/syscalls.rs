//! System-call behaviour the differential tests cannot show on a host
//! where they run as root or where the answer is a count: EPERM below
//! `mmap_min_addr` (what an unprivileged Linux process gets), PROT_GROWSDOWN
//! on the stack, MAP_POPULATE's faults, errno values, EOVERFLOW, calls
//! of a process that has ended, and the counts the cost model prices.
#![allow(clippy::unwrap_used)]

use vmlab_hw::arch::presets;
use vmlab_kernel::abi::*;
use vmlab_kernel::frames::Pid;
use vmlab_kernel::kernel::task_size;
use vmlab_kernel::region::{Prot, RegionKind, PROT_READ, PROT_WRITE};
use vmlab_kernel::{Errno, Kernel, KernelConfig};

const PAGE: u64 = 4096;
const RW: u32 = PROT_READ | PROT_WRITE;

fn boot() -> (Kernel, Pid) {
    let arch = presets::by_name("x86-64").unwrap().unwrap();
    let mut k = Kernel::new(KernelConfig::new(arch, 128)).unwrap();
    let pid = k.spawn(0).unwrap();
    (k, pid)
}

#[test]
fn a_fixed_mapping_below_mmap_min_addr_is_eperm() {
    let (mut k, pid) = boot();
    let fixed = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    assert_eq!(
        k.sys_mmap(pid, 0, PAGE, RW, fixed, -1, 0),
        Err(Errno::Eperm)
    );
    assert_eq!(k.sys_mmap(pid, PAGE, PAGE, RW, fixed, -1, 0), Ok(PAGE));
}

#[test]
fn growsdown_extends_mprotect_to_the_start_of_the_stack() {
    let (mut k, pid) = boot();
    let top = task_size(k.arch()) - PAGE;
    // Grow the stack to three pages.
    k.store(pid, top - 3 * PAGE, 1, 1).unwrap();
    let stack = *k.regions(pid).unwrap().find(top - PAGE).unwrap();
    assert_eq!(stack.start, top - 3 * PAGE);
    // Only the top page is named; the whole stack below it changes too.
    let prot = PROT_READ | PROT_GROWSDOWN;
    assert_eq!(k.sys_mprotect(pid, top - PAGE, PAGE, prot), Ok(()));
    let regions: Vec<_> = k
        .regions(pid)
        .unwrap()
        .iter()
        .filter(|r| r.kind == RegionKind::Stack { grows_down: true })
        .map(|r| (r.start, r.end, r.prot))
        .collect();
    assert_eq!(regions, vec![(top - 3 * PAGE, top, Prot::READ)]);
}

#[test]
fn populate_faults_private_writable_memory_in_for_writing() {
    let (mut k, pid) = boot();
    let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE;
    k.sys_mmap(pid, 0, 3 * PAGE, RW, flags, -1, 0).unwrap();
    assert_eq!(k.counters().zero_fills, 3);
    // Read-only memory is populated with the zero page, no frame.
    k.sys_mmap(pid, 0, 2 * PAGE, PROT_READ, flags, -1, 0)
        .unwrap();
    assert_eq!(k.counters().zero_fills, 3);
    assert_eq!(k.counters().zero_page_maps, 2);
}

#[test]
fn errno_values_are_linux_x86_64s() {
    // From <asm-generic/errno-base.h> and <asm-generic/errno.h>.
    let values = [
        (Errno::Eperm, 1),
        (Errno::Enoent, 2),
        (Errno::Echild, 10),
        (Errno::Eagain, 11),
        (Errno::Ebadf, 9),
        (Errno::Enomem, 12),
        (Errno::Eacces, 13),
        (Errno::Efault, 14),
        (Errno::Eexist, 17),
        (Errno::Einval, 22),
        (Errno::Eoverflow, 75),
        (Errno::Eopnotsupp, 95),
    ];
    for (errno, value) in values {
        assert_eq!(errno.number(), value, "{errno}");
    }
}

#[test]
fn a_mapping_whose_offset_overflows_is_eoverflow() {
    let (mut k, pid) = boot();
    k.import_file("f", vec![1; 10]).unwrap();
    let fd = k.sys_open(pid, "f", O_RDONLY, 0).unwrap();
    let offset = u64::MAX - PAGE + 1;
    assert_eq!(
        k.sys_mmap(pid, 0, 2 * PAGE, PROT_READ, MAP_PRIVATE, fd, offset),
        Err(Errno::Eoverflow)
    );
}

#[test]
fn calls_of_a_process_that_is_gone_are_esrch() {
    let (mut k, pid) = boot();
    k.sys_exit(pid, 0).unwrap();
    assert_eq!(k.sys_open(pid, "f", O_CREAT, 0), Err(Errno::Esrch));
    assert_eq!(k.sys_getpid(pid), Err(Errno::Esrch));
    assert_eq!(
        k.sys_mmap(pid, 0, PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
        Err(Errno::Esrch)
    );
}

#[test]
fn system_calls_and_user_copies_are_counted() {
    let (mut k, pid) = boot();
    let buf = task_size(k.arch()) - 2 * PAGE;
    let fd = k.sys_open(pid, "f", O_CREAT | O_RDWR, 0o644).unwrap();
    k.write_user(pid, buf, b"hello").unwrap();
    k.sys_write(pid, fd, buf, 5).unwrap();
    k.sys_lseek(pid, fd, 1, SEEK_SET).unwrap();
    k.sys_read(pid, fd, buf, 100).unwrap();
    // A failing call is a system call too.
    assert_eq!(k.sys_close(pid, 99), Err(Errno::Ebadf));
    k.sys_getpid(pid).unwrap();
    let c = k.counters();
    assert_eq!(c.syscalls, 6);
    assert_eq!(c.user_copy_bytes, 5 + 4);
}

/// read(2) and write(2) move a transfer through one host buffer a piece
/// at a time (a write of a huge mapped range held a host copy of all of
/// it, and the process aborted): a transfer several pieces long still
/// moves every byte, on a machine whose memory (128 frames) holds less
/// than the two buffers and the file's cached pages.
#[test]
fn transfers_longer_than_the_host_buffer_move_every_byte() {
    let (mut k, pid) = boot();
    let n = 300_000u64;
    let anon = MAP_PRIVATE | MAP_ANONYMOUS;
    let src = k.sys_mmap(pid, 0, n, RW, anon, -1, 0).unwrap();
    let dst = k.sys_mmap(pid, 0, n, RW, anon, -1, 0).unwrap();
    let bytes: Vec<u8> = (0..n).map(|i| (i * 13 % 253) as u8).collect();
    k.write_user(pid, src, &bytes).unwrap();
    let fd = k.sys_open(pid, "f", O_CREAT | O_RDWR, 0o644).unwrap();
    assert_eq!(k.sys_write(pid, fd, src, n), Ok(n));
    k.sys_lseek(pid, fd, 0, SEEK_SET).unwrap();
    assert_eq!(k.sys_read(pid, fd, dst, u64::MAX), Ok(n));
    let mut back = vec![0; n as usize];
    k.read_user(pid, dst, &mut back).unwrap();
    assert_eq!(back, bytes);
    assert_eq!(k.counters().user_copy_bytes, 2 * n);
}

/// fork(2) fails with EAGAIN once every process id is taken (Linux's
/// default pid_max, 32768), ended children not yet waited for included;
/// waiting for one frees its id. Before, a script forking in a loop grew
/// the process table until the host ran out of memory.
#[test]
fn fork_is_eagain_when_every_process_id_is_taken() {
    let (mut k, pid) = boot();
    let mut children = 0;
    let err = loop {
        match k.fork(pid) {
            Ok(child) => {
                k.exit(child, 0).unwrap();
                children += 1;
            }
            Err(e) => break e,
        }
    };
    assert_eq!(err, Errno::Eagain);
    assert_eq!(children, vmlab_kernel::kernel::MAX_PROCESSES - 1);
    k.wait(pid, None).unwrap().unwrap();
    assert!(k.fork(pid).is_ok());
}
