//! Machines for the C library's tests: one process on an x86-64 kernel
//! with the terminal as descriptors 0 to 2, or with standard output
//! redirected to a file the way a shell does it.
#![allow(clippy::unwrap_used, dead_code)]

use vmlab_hw::arch::presets;
use vmlab_kernel::abi::{O_CREAT, O_TRUNC, O_WRONLY};
use vmlab_kernel::frames::Pid;
use vmlab_kernel::{Kernel, KernelConfig};
use vmlab_libc::{Libc, MallocConfig};

pub const KIB: u64 = 1024;

/// A started process whose descriptors 0 to 2 are the terminal.
pub fn on_terminal(config: MallocConfig) -> (Libc, Pid) {
    boot(config, None)
}

/// A started process whose standard output is the file `name`.
pub fn stdout_to(name: &str) -> (Libc, Pid) {
    boot(MallocConfig::default(), Some(name))
}

fn boot(config: MallocConfig, stdout: Option<&str>) -> (Libc, Pid) {
    let arch = presets::by_name("x86-64").unwrap().unwrap();
    let mut kernel = Kernel::new(KernelConfig::new(arch, 2048)).unwrap();
    let pid = kernel.spawn(0).unwrap();
    kernel.attach_terminal(pid).unwrap();
    if let Some(name) = stdout {
        // The shell's `> name`: the lowest free descriptor is 1 again.
        kernel.sys_close(pid, 1).unwrap();
        let fd = kernel
            .sys_open(pid, name, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            .unwrap();
        assert_eq!(fd, 1);
    }
    let mut libc = Libc::new(kernel, config);
    libc.start(pid).unwrap();
    (libc, pid)
}

/// The string `s` in a malloc'd block, NUL-terminated.
pub fn c_string(libc: &mut Libc, pid: Pid, s: &str) -> u64 {
    let p = libc.malloc(pid, s.len() as u64 + 1).unwrap();
    let mut bytes = s.as_bytes().to_vec();
    bytes.push(0);
    libc.write_bytes(pid, p, &bytes).unwrap();
    p
}

/// The contents of the file `name` (its dirty cached pages written back).
pub fn file(libc: &mut Libc, name: &str) -> Vec<u8> {
    libc.kernel_mut().export_file(name).unwrap()
}
