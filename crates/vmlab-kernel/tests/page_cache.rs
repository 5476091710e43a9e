//! The page cache and the file system through the system calls, where the
//! host's Linux cannot be compared with (counts, disk I/O, memory
//! pressure): the first use of a file page reads the disk and later ones
//! do not; clean cached pages are dropped without I/O and dirty ones
//! written back under pressure, and the contents survive; msync(MS_SYNC)
//! writes back and MS_ASYNC does not, and so does the unmap (munmap,
//! exit) of a shared mapping with dirty pages; mapped pages fault in as major
//! faults when uncached and minor ones when cached; nothing leaks when
//! processes end and files go; host files import and export; MADV_WILLNEED
//! reads a mapped range ahead.
#![allow(clippy::unwrap_used)]

use vmlab_hw::arch::presets;
use vmlab_kernel::abi::*;
use vmlab_kernel::frames::Pid;
use vmlab_kernel::kernel::task_size;
use vmlab_kernel::region::{PROT_READ, PROT_WRITE};
use vmlab_kernel::{Errno, Kernel, KernelConfig};

const PAGE: u64 = 4096;

fn boot(frames: usize) -> (Kernel, Pid) {
    let arch = presets::by_name("x86-64").unwrap().unwrap();
    let mut k = Kernel::new(KernelConfig::new(arch, frames)).unwrap();
    let pid = k.spawn(0).unwrap();
    (k, pid)
}

/// A user buffer: the stack page.
fn scratch(k: &Kernel) -> u64 {
    task_size(k.arch()) - 2 * PAGE
}

/// A file of `pages` pages, page i filled with byte i + 1.
fn file_of_pages(pages: u64) -> Vec<u8> {
    (0..pages * PAGE).map(|i| (i / PAGE + 1) as u8).collect()
}

#[test]
fn a_page_is_read_from_the_disk_once_then_served_from_the_cache() {
    let (mut k, pid) = boot(64);
    k.import_file("f", file_of_pages(2)).unwrap();
    let fd = k.sys_open(pid, "f", O_RDONLY, 0).unwrap();
    let buf = scratch(&k);
    assert_eq!(k.sys_read(pid, fd, buf, 100), Ok(100));
    assert_eq!(k.sys_read(pid, fd, buf, 100), Ok(100));
    assert_eq!(k.files().disk_counters().reads, 1);
    assert_eq!(k.counters().file_reads, 1);
    // A read across into the second page reads that one only.
    k.sys_lseek(pid, fd, (PAGE - 10) as i64, SEEK_SET).unwrap();
    assert_eq!(k.sys_read(pid, fd, buf, 20), Ok(20));
    assert_eq!(k.files().disk_counters().reads, 2);
    assert_eq!(k.cached_pages(), 2);
    assert_eq!(k.load(pid, buf + 9, 1), Ok(1));
    assert_eq!(k.load(pid, buf + 10, 1), Ok(2));
}

#[test]
fn memory_pressure_drops_clean_pages_and_writes_dirty_ones_back() {
    // 24 frames: page tables, the zero page and a few cache pages; a
    // 40-page file cannot stay cached.
    let (mut k, pid) = boot(24);
    let pages = 40;
    k.import_file("f", file_of_pages(pages)).unwrap();
    let fd = k.sys_open(pid, "f", O_RDWR, 0).unwrap();
    let buf = scratch(&k);
    for _ in 0..pages {
        assert_eq!(k.sys_read(pid, fd, buf, PAGE), Ok(PAGE));
    }
    let c = k.counters();
    assert!(c.evictions > 0 && c.clean_drops == c.evictions, "{c:?}");
    assert_eq!(k.files().disk_counters().writes, 0);
    // Overwrite every page with its index + 100 through write(2).
    k.sys_lseek(pid, fd, 0, SEEK_SET).unwrap();
    for i in 0..pages {
        k.write_user(pid, buf, &vec![(i + 100) as u8; PAGE as usize])
            .unwrap();
        assert_eq!(k.sys_write(pid, fd, buf, PAGE), Ok(PAGE));
    }
    assert!(k.counters().write_backs > 0);
    assert!(k.files().disk_counters().writes > 0);
    // Every byte is the last one written, cached or written back.
    let contents = k.export_file("f").unwrap();
    let expected: Vec<u8> = (0..pages * PAGE).map(|i| (i / PAGE + 100) as u8).collect();
    assert!(contents == expected);
    // The disk now holds every page: write-back counted each one once.
    assert_eq!(k.counters().write_backs, pages);
}

#[test]
fn msync_sync_writes_back_and_async_does_not() {
    let (mut k, pid) = boot(64);
    k.import_file("f", file_of_pages(1)).unwrap();
    let fd = k.sys_open(pid, "f", O_RDWR, 0).unwrap();
    let rw = PROT_READ | PROT_WRITE;
    let a = k.sys_mmap(pid, 0, PAGE, rw, MAP_SHARED, fd, 0).unwrap();
    k.store(pid, a, 1, 0xee).unwrap();
    assert_eq!(k.sys_msync(pid, a, PAGE, MS_ASYNC), Ok(()));
    assert_eq!(k.files().disk_counters().writes, 0);
    assert_eq!(k.sys_msync(pid, a, PAGE, MS_SYNC), Ok(()));
    assert_eq!(k.files().disk_counters().writes, 1);
    // Clean now: a second sync writes nothing.
    assert_eq!(k.sys_msync(pid, a, PAGE, MS_SYNC), Ok(()));
    assert_eq!(k.files().disk_counters().writes, 1);
    assert_eq!(k.export_file("f").unwrap()[0], 0xee);
}

#[test]
fn mapped_file_pages_fault_major_when_uncached_minor_when_cached() {
    let (mut k, pid) = boot(64);
    k.import_file("f", file_of_pages(2)).unwrap();
    let fd = k.sys_open(pid, "f", O_RDONLY, 0).unwrap();
    // Page 0 enters the cache through read(2).
    k.sys_read(pid, fd, scratch(&k), 1).unwrap();
    let a = k
        .sys_mmap(pid, 0, 2 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0)
        .unwrap();
    let before = k.process_counters(pid).unwrap();
    assert_eq!(k.load(pid, a, 1), Ok(1));
    assert_eq!(k.load(pid, a + PAGE, 1), Ok(2));
    let after = k.process_counters(pid).unwrap();
    assert_eq!(after.major_faults - before.major_faults, 1);
    assert_eq!(after.minor_faults - before.minor_faults, 1);
}

#[test]
fn populate_reads_the_file_pages_in_at_mmap_time() {
    let (mut k, pid) = boot(64);
    k.import_file("f", file_of_pages(2)).unwrap();
    let fd = k.sys_open(pid, "f", O_RDONLY, 0).unwrap();
    // Four pages mapped, two in the file: populating stops at its end.
    let flags = MAP_PRIVATE | MAP_POPULATE;
    let a = k
        .sys_mmap(pid, 0, 4 * PAGE, PROT_READ, flags, fd, 0)
        .unwrap();
    assert!(k.is_live(pid));
    assert_eq!(k.cached_pages(), 2);
    let faults = k.counters().major_faults + k.counters().minor_faults;
    assert_eq!(k.load(pid, a + PAGE, 1), Ok(2));
    assert_eq!(
        k.counters().major_faults + k.counters().minor_faults,
        faults
    );
}

#[test]
fn a_buffer_past_the_end_of_a_mapped_file_is_efault_not_sigbus() {
    let (mut k, pid) = boot(64);
    k.import_file("f", vec![5; 10]).unwrap();
    let fd = k.sys_open(pid, "f", O_RDWR, 0).unwrap();
    let rw = PROT_READ | PROT_WRITE;
    let a = k.sys_mmap(pid, 0, 2 * PAGE, rw, MAP_SHARED, fd, 0).unwrap();
    assert_eq!(k.sys_read(pid, fd, a + PAGE, 4), Err(Errno::Efault));
    assert_eq!(k.sys_write(pid, fd, a + PAGE, 4), Err(Errno::Efault));
    // The part within the last page is fine: a short read.
    assert_eq!(k.sys_read(pid, fd, a + PAGE - 2, 4), Ok(2));
    assert!(k.is_live(pid));
}

#[test]
fn nothing_leaks_when_processes_end_and_files_go() {
    let (mut k, parent) = boot(64);
    let free = k.frames().free_count();
    let pid = k.sys_fork(parent).unwrap();
    let fd = k.sys_open(pid, "tmp", O_CREAT | O_RDWR, 0o600).unwrap();
    let buf = scratch(&k);
    k.write_user(pid, buf, &[7; 3000]).unwrap();
    for _ in 0..4 {
        k.sys_write(pid, fd, buf, 3000).unwrap();
    }
    let rw = PROT_READ | PROT_WRITE;
    let a = k.sys_mmap(pid, 0, 3 * PAGE, rw, MAP_SHARED, fd, 0).unwrap();
    let p = k.sys_mmap(pid, 0, PAGE, rw, MAP_PRIVATE, fd, 0).unwrap();
    k.store(pid, a + PAGE, 1, 1).unwrap();
    k.store(pid, p, 1, 2).unwrap();
    k.sys_unlink(pid, "tmp").unwrap();
    k.sys_close(pid, fd).unwrap();
    // Still mapped: the file and its pages live.
    assert!(k.cached_pages() > 0);
    k.sys_exit(pid, 0).unwrap();
    k.sys_wait(parent, Some(pid)).unwrap();
    assert_eq!(k.cached_pages(), 0);
    assert_eq!(k.frames().free_count(), free);
}

#[test]
fn host_files_import_and_export() {
    let dir = std::env::temp_dir().join(format!("vmlab-page-cache-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let host = dir.join("in.txt");
    std::fs::write(&host, b"from the host").unwrap();
    let (mut k, pid) = boot(64);
    k.import_host_file("in", &host).unwrap();
    let fd = k.sys_open(pid, "in", O_WRONLY | O_APPEND, 0).unwrap();
    let buf = scratch(&k);
    k.write_user(pid, buf, b", and back").unwrap();
    k.sys_write(pid, fd, buf, 10).unwrap();
    assert_eq!(
        k.export_file("in").unwrap(),
        b"from the host, and back".to_vec()
    );
    assert!(k.import_host_file("x", &dir.join("missing")).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unmapping_a_dirty_shared_mapping_writes_it_back() {
    let (mut k, parent) = boot(64);
    k.import_file("f", file_of_pages(3)).unwrap();
    let pid = k.sys_fork(parent).unwrap();
    let fd = k.sys_open(pid, "f", O_RDWR, 0).unwrap();
    let rw = PROT_READ | PROT_WRITE;
    let a = k.sys_mmap(pid, 0, 3 * PAGE, rw, MAP_SHARED, fd, 0).unwrap();
    let p = k.sys_mmap(pid, 0, PAGE, rw, MAP_PRIVATE, fd, 0).unwrap();
    k.store(pid, a, 1, 9).unwrap();
    k.store(pid, a + 2 * PAGE, 1, 9).unwrap();
    // Read only: clean, nothing to write.
    k.load(pid, a + PAGE, 1).unwrap();
    // A private copy never goes to the file.
    k.store(pid, p, 1, 7).unwrap();
    k.sys_munmap(pid, a, PAGE).unwrap();
    assert_eq!(k.files().disk_counters().writes, 1);
    k.sys_exit(pid, 0).unwrap();
    assert_eq!(k.files().disk_counters().writes, 2);
    let contents = k.export_file("f").unwrap();
    assert_eq!(
        (
            contents[0],
            contents[PAGE as usize],
            contents[2 * PAGE as usize]
        ),
        (9, 2, 9)
    );
    // Nothing was left dirty for the export to write.
    assert_eq!(k.files().disk_counters().writes, 2);
}

#[test]
fn willneed_reads_a_mapped_file_range_ahead() {
    let (mut k, pid) = boot(64);
    k.import_file("f", file_of_pages(4)).unwrap();
    let fd = k.sys_open(pid, "f", O_RDONLY, 0).unwrap();
    // Six pages mapped from page 1 on: pages 1 to 3 exist.
    let a = k
        .sys_mmap(pid, 0, 6 * PAGE, PROT_READ, MAP_SHARED, fd, PAGE)
        .unwrap();
    assert_eq!(k.sys_madvise(pid, a, 6 * PAGE, MADV_WILLNEED), Ok(()));
    assert_eq!(k.cached_pages(), 3);
    assert_eq!(k.counters().file_reads, 3);
    // Faults on them are minor now.
    assert_eq!(k.load(pid, a + 2 * PAGE, 1), Ok(4));
    assert_eq!(k.process_counters(pid).unwrap().major_faults, 0);
    // Anonymous memory: nothing to read.
    let anon = k
        .sys_mmap(pid, 0, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        .unwrap();
    assert_eq!(k.sys_madvise(pid, anon, PAGE, MADV_WILLNEED), Ok(()));
    assert_eq!(k.cached_pages(), 3);
}

/// Read-ahead on file faults, steered by madvise (Linux's
/// `do_sync_mmap_readahead`): with an 8-page window, touching every page
/// of a 32-page mapping in order costs 4 major faults under
/// MADV_SEQUENTIAL (each reads itself and the 7 after it), one per page
/// under MADV_RANDOM, and with no advice a window around each fault
/// (half of it behind the page, already cached, so more faults than
/// sequential but far fewer than random). Every page is read from the disk
/// once whatever the advice, and the advice splits the region where it
/// ends.
#[test]
fn madvise_steers_read_ahead_on_file_faults() {
    let cases = [
        (MADV_SEQUENTIAL, 4, 32),
        (MADV_RANDOM, 32, 32),
        (MADV_NORMAL, 7, 32),
    ];
    for (advice, majors, disk_reads) in cases {
        let arch = presets::by_name("x86-64").unwrap().unwrap();
        let mut config = KernelConfig::new(arch, 128);
        config.read_ahead_pages = 8;
        let mut k = Kernel::new(config).unwrap();
        let pid = k.spawn(0).unwrap();
        k.import_file("f", file_of_pages(32)).unwrap();
        let fd = k.sys_open(pid, "f", O_RDONLY, 0).unwrap();
        let at = k
            .sys_mmap(pid, 0, 32 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0)
            .unwrap();
        k.sys_madvise(pid, at, 32 * PAGE, advice).unwrap();
        let before = k.counters();
        for i in 0..32 {
            assert_eq!(k.load(pid, at + i * PAGE, 1), Ok(i + 1));
        }
        let c = k.counters();
        assert_eq!(
            c.major_faults - before.major_faults,
            majors,
            "advice {advice}"
        );
        assert_eq!(
            c.file_reads - before.file_reads,
            disk_reads,
            "advice {advice}"
        );
    }
    // Advice on part of a mapping splits it; the same advice again merges.
    let (mut k, pid) = boot(64);
    k.import_file("g", file_of_pages(4)).unwrap();
    let fd = k.sys_open(pid, "g", O_RDONLY, 0).unwrap();
    let at = k
        .sys_mmap(pid, 0, 4 * PAGE, PROT_READ, MAP_SHARED, fd, 0)
        .unwrap();
    let regions = |k: &Kernel| {
        k.regions(pid)
            .unwrap()
            .overlapping(at, at + 4 * PAGE)
            .count()
    };
    k.sys_madvise(pid, at + PAGE, PAGE, MADV_RANDOM).unwrap();
    assert_eq!(regions(&k), 3);
    k.sys_madvise(pid, at + PAGE, PAGE, MADV_NORMAL).unwrap();
    assert_eq!(regions(&k), 1);
}
