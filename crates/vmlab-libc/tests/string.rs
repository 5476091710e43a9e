//! The string routines: their results, and the word accesses each is
//! counted as.
#![allow(clippy::unwrap_used)]

mod common;

use common::{c_string, on_terminal};
use vmlab_kernel::region::Prot;
use vmlab_kernel::SignalKind;
use vmlab_libc::{LibcError, MallocConfig};

/// Runs `f` and returns the user accesses it made.
fn accesses<T>(
    libc: &mut vmlab_libc::Libc,
    f: impl FnOnce(&mut vmlab_libc::Libc) -> T,
) -> (T, u64) {
    let before = libc.accounting().counts.memory_accesses;
    let out = f(libc);
    (out, libc.accounting().counts.memory_accesses - before)
}

#[test]
fn memcpy_and_memset_move_bytes_a_word_at_a_time() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    let src = libc.malloc(pid, 64).unwrap();
    let dst = libc.malloc(pid, 64).unwrap();
    let bytes: Vec<u8> = (1..=64).collect();
    libc.write_bytes(pid, src, &bytes).unwrap();
    // 64 aligned bytes: 8 loads and 8 stores.
    let (r, n) = accesses(&mut libc, |l| l.memcpy(pid, dst, src, 64).unwrap());
    assert_eq!((r, n), (dst, 16));
    let mut back = vec![0; 64];
    libc.read_bytes(pid, dst, &mut back).unwrap();
    assert_eq!(back, bytes);
    // 10 bytes from offset 3 touch words 0 and 1: 2 stores.
    let (_, n) = accesses(&mut libc, |l| l.memset(pid, dst + 3, 0xee, 10).unwrap());
    assert_eq!(n, 2);
    libc.read_bytes(pid, dst, &mut back[..16]).unwrap();
    assert_eq!(
        &back[..16],
        &[1, 2, 3, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 14, 15, 16]
    );
    assert_eq!(libc.accounting().library("memcpy"), 1);
    assert_eq!(libc.accounting().library("memset"), 1);
}

/// Ranges far longer than the routines' host buffer: every byte moves, an
/// overlapping copy reads each piece before writing it (memmove's result,
/// as when the whole range was read first), and the accesses are counted
/// for the whole range at once.
#[test]
fn long_ranges_go_through_the_host_buffer_piece_by_piece() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    let n = 200_000u64;
    let src = libc.malloc(pid, n + 16).unwrap();
    let dst = libc.malloc(pid, n).unwrap();
    let bytes: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
    libc.write_bytes(pid, src, &bytes).unwrap();
    let (_, accesses_made) = accesses(&mut libc, |l| l.memcpy(pid, dst, src, n).unwrap());
    assert_eq!(accesses_made, 2 * n / 8);
    let mut back = vec![0; n as usize];
    libc.read_bytes(pid, dst, &mut back).unwrap();
    assert_eq!(back, bytes);
    assert_eq!(libc.memcmp(pid, src, dst, n).unwrap(), 0);
    libc.store(pid, dst + 190_000, 1, 0).unwrap();
    let (r, looked) = accesses(&mut libc, |l| l.memcmp(pid, src, dst, n).unwrap());
    assert!(r > 0);
    assert_eq!(looked, 2 * (190_000 / 8 + 1));
    // Up by 8 bytes, overlapping: the source as it was before the copy.
    libc.memcpy(pid, src + 8, src, n).unwrap();
    libc.read_bytes(pid, src + 8, &mut back).unwrap();
    assert_eq!(back, bytes);
    // Down by 8 bytes.
    libc.memcpy(pid, src, src + 8, n).unwrap();
    libc.read_bytes(pid, src, &mut back).unwrap();
    assert_eq!(back, bytes);
    libc.memset(pid, dst, 0x5a, n).unwrap();
    libc.read_bytes(pid, dst, &mut back).unwrap();
    assert!(back.iter().all(|&b| b == 0x5a));
}

/// memset and memcpy of a terabyte held a host buffer of the whole range
/// (the process aborted: "memory allocation of 1099511627776 bytes
/// failed"). The machine's own memory runs out first now, as it would on
/// Linux: the out-of-memory killer ends the process.
#[test]
fn a_terabyte_memset_ends_in_the_oom_killer_not_a_host_abort() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    let tib = 1u64 << 40;
    let p = libc
        .kernel_mut()
        .mmap_anonymous(pid, 0, 2 * tib, Prot::READ | Prot::WRITE, false, false)
        .unwrap();
    match libc.memset(pid, p, 1, tib) {
        Err(LibcError::Signal(s)) => assert_eq!(s.kind, SignalKind::Sigkill),
        other => panic!("memset of a terabyte gave {other:?}"),
    }
}

#[test]
fn memcmp_stops_at_the_first_difference() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    let a = c_string(&mut libc, pid, "abcdefghijklmnopqrstuvwxyz");
    let b = c_string(&mut libc, pid, "abcdefghijklmnopQrstuvwxyz");
    assert_eq!(libc.memcmp(pid, a, b, 16).unwrap(), 0);
    // The difference is in the third word of each: 6 loads.
    let (r, n) = accesses(&mut libc, |l| l.memcmp(pid, a, b, 26).unwrap());
    assert!(r > 0);
    assert_eq!(n, 6);
    assert!(libc.memcmp(pid, b, a, 26).unwrap() < 0);
}

#[test]
fn strlen_strcpy_and_strcmp() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    let s = c_string(&mut libc, pid, "hello");
    // The program cuts it short with a store of its own.
    libc.store(pid, s + 5, 1, 0).unwrap();
    let (len, n) = accesses(&mut libc, |l| l.strlen(pid, s).unwrap());
    assert_eq!((len, n), (5, 1));
    let long = c_string(&mut libc, pid, "twenty characters...");
    let (len, n) = accesses(&mut libc, |l| l.strlen(pid, long).unwrap());
    assert_eq!((len, n), (20, 3));
    let dst = libc.malloc(pid, 32).unwrap();
    assert_eq!(libc.strcpy(pid, dst, long).unwrap(), dst);
    assert_eq!(libc.strcmp(pid, dst, long).unwrap(), 0);
    let abc = c_string(&mut libc, pid, "abc");
    let abd = c_string(&mut libc, pid, "abd");
    let ab = c_string(&mut libc, pid, "ab");
    assert!(libc.strcmp(pid, abc, abd).unwrap() < 0);
    assert!(libc.strcmp(pid, abd, abc).unwrap() > 0);
    assert!(libc.strcmp(pid, ab, abc).unwrap() < 0);
}

#[test]
fn strings_may_cross_pages() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    let block = libc.malloc(pid, 3 * 4096).unwrap();
    let page_end = (block + 4096).next_multiple_of(4096);
    let s = page_end - 5;
    libc.write_bytes(pid, s, b"across pages\0").unwrap();
    let t = c_string(&mut libc, pid, "across pages");
    assert_eq!(libc.strlen(pid, s).unwrap(), 12);
    assert_eq!(libc.strcmp(pid, s, t).unwrap(), 0);
}

#[test]
fn a_bad_pointer_kills_the_process_as_in_c() {
    let (mut libc, pid) = on_terminal(MallocConfig::default());
    assert!(matches!(libc.strlen(pid, 0), Err(LibcError::Signal(_))));
    assert!(!libc.kernel().is_live(pid));
    assert_eq!(libc.strlen(pid, 0), Err(LibcError::NotStarted(pid)));
}
