//! Host memory of a large sparse machine: a 64 GiB `PhysMem` with 1 MiB
//! touched, in 256 scattered 4 KiB pieces, printing the process's resident
//! set (VmRSS from /proc/self/status) before and after, and the backing
//! store `PhysMem` reports. The claim to check: a few MiB, not 64 GiB.

use vmlab_hw::{Endian, PhysMem};

fn vm_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let before = vm_rss_kib();
    let size = 64u64 << 30;
    let Ok(mut mem) = PhysMem::new(size, Endian::Little) else {
        eprintln!("cannot build a 64 GiB machine");
        std::process::exit(1);
    };
    // 256 pieces of 4 KiB, one every 256 MiB: 1 MiB touched in all.
    for i in 0..256u64 {
        let base = i * (size / 256);
        for offset in (0..4096).step_by(8) {
            if mem.store(base + offset, 8, i ^ offset).is_err() {
                eprintln!("store failed at {:#x}", base + offset);
                std::process::exit(1);
            }
        }
    }
    let after = vm_rss_kib();
    println!(
        "physmem_rss: 64 GiB machine, 1 MiB touched: backing store {} KiB; process VmRSS {} KiB before, {} KiB after",
        mem.resident_bytes() / 1024,
        before.map_or("?".into(), |v| v.to_string()),
        after.map_or("?".into(), |v| v.to_string()),
    );
}
