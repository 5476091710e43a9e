//! The trace readers on small hand-written inputs: exact references, the
//! exact `file:line:col` message for every class of malformed line,
//! skip-bad-lines counts, compressed inputs, binary round trips.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use std::io::Write;
use vmlab_hw::AccessKind;
use vmlab_workload::chunk::ops_of;
use vmlab_workload::op::MemRef;
use vmlab_workload::trace::{
    self, detect, AddrReader, BinReader, BinWriter, LackeyReader, OracleReader, ReadOptions,
    TraceError, TraceFormat, TraceReader,
};

fn skip() -> ReadOptions {
    ReadOptions {
        skip_bad_lines: true,
        ..ReadOptions::default()
    }
}

fn lackey(text: &str) -> Vec<Result<MemRef, TraceError>> {
    LackeyReader::new(text.as_bytes(), "t.lackey", ReadOptions::default()).collect()
}

fn addrs(text: &str) -> Vec<Result<MemRef, TraceError>> {
    AddrReader::new(text.as_bytes(), "t.addr", ReadOptions::default()).collect()
}

fn ok(v: Vec<Result<MemRef, TraceError>>) -> Vec<MemRef> {
    v.into_iter().map(Result::unwrap).collect()
}

/// The message of the single error a reader gives, after any good refs.
fn error_of(v: Vec<Result<MemRef, TraceError>>) -> String {
    let last = v.into_iter().last().unwrap();
    last.unwrap_err().to_string()
}

fn open_bytes(
    bytes: Vec<u8>,
    format: Option<TraceFormat>,
    opts: ReadOptions,
) -> Result<TraceReader, TraceError> {
    trace::from_reader(Box::new(std::io::Cursor::new(bytes)), "mem", format, opts)
}

const LACKEY: &str = "\
==12345== Lackey, an example Valgrind tool
==12345== Command: ./a.out
I  0401ab70,3
 L 7ff000398,8
 S 04222cac,4
 M 0421d7c0,2
SB 0401ab80
I  ffffffffff600000,7\r
==12345== 
";

#[test]
fn lackey_reads_every_line_kind() {
    assert_eq!(
        ok(lackey(LACKEY)),
        vec![
            MemRef::fetch(0x0401ab70, 3),
            MemRef::read(0x7ff000398, 8),
            MemRef::write(0x04222cac, 4),
            MemRef::read(0x0421d7c0, 2),
            MemRef::write(0x0421d7c0, 2),
            MemRef::fetch(0xffffffffff600000, 7),
        ]
    );
}

#[test]
fn lackey_errors_name_file_line_column() {
    let cases = [
        ("I  10,4\n X 10,4\n", "t.lackey:2:2: expected an access kind (I, L, S or M), found \"X\""),
        (" L10,4\n", "t.lackey:1:3: expected a blank after the access kind, found \"10\""),
        (" L zz,4\n", "t.lackey:1:4: expected a hexadecimal address, found \"zz\""),
        (" L 10;4\n", "t.lackey:1:6: expected \",\" after the address, found \";4\""),
        (" L 10\n", "t.lackey:1:6: expected \",\" after the address, found end of line"),
        (" L 10,\n", "t.lackey:1:7: expected a decimal size, found end of line"),
        (" L 10,x\n", "t.lackey:1:7: expected a decimal size, found \"x\""),
        (" L 10,0\n", "t.lackey:1:7: expected a size of at least 1, found \"0\""),
        (" L 10,4294967296\n", "t.lackey:1:7: expected a size below 2^32, found \"4294967296\""),
        (" L 10,4 junk\n", "t.lackey:1:9: expected end of line, found \"junk\""),
        (
            " L 11112222333344445,4\n",
            "t.lackey:1:4: expected an address of at most 16 hex digits, found \"11112222333344445\"",
        ),
    ];
    for (text, message) in cases {
        assert_eq!(error_of(lackey(text)), message, "input {text:?}");
    }
}

#[test]
fn an_error_ends_the_stream_but_skip_mode_counts_and_goes_on() {
    let text = "I  10,4\n X 10,4\n L 20,4\nbad\n S 30,8\n";
    let v = lackey(text);
    assert_eq!(v.len(), 2);
    assert!(v[1].is_err());

    let mut r = LackeyReader::new(text.as_bytes(), "t", skip());
    let refs: Vec<MemRef> = r.by_ref().map(Result::unwrap).collect();
    assert_eq!(
        refs,
        vec![
            MemRef::fetch(0x10, 4),
            MemRef::read(0x20, 4),
            MemRef::write(0x30, 8)
        ]
    );
    assert_eq!(r.skipped(), 2);
    assert_eq!(r.lines(), 5);
}

#[test]
fn overlong_lines_are_errors_not_memory() {
    let mut text = vec![b'1'; 3 << 20];
    text.extend_from_slice(b"\n0x40\n");
    let v: Vec<_> = AddrReader::new(&text[..], "big", ReadOptions::default()).collect();
    assert_eq!(
        v[0].as_ref().unwrap_err().to_string(),
        "big:1:1048577: expected a line of at most 1 MiB, found a longer line"
    );
    let mut r = AddrReader::new(&text[..], "big", skip());
    assert_eq!(r.next().unwrap().unwrap(), MemRef::read(0x40, 1));
    assert_eq!(r.skipped(), 1);
}

#[test]
fn address_lists() {
    let text = "# a comment\n\n0x1000\n4096 W\n0x2000,r\n  8192\tw   # trailing\n0XFF R\n";
    assert_eq!(
        ok(addrs(text)),
        vec![
            MemRef::read(0x1000, 1),
            MemRef::write(4096, 1),
            MemRef::read(0x2000, 1),
            MemRef::write(8192, 1),
            MemRef::read(255, 1),
        ]
    );
}

#[test]
fn address_list_errors() {
    let cases = [
        (
            "0x10\nzz\n",
            "t.addr:2:1: expected an address (hex with 0x, or decimal), found \"zz\"",
        ),
        (
            "0xg\n",
            "t.addr:1:3: expected hexadecimal digits after 0x, found \"g\"",
        ),
        (
            "12ab\n",
            "t.addr:1:1: expected an address (hex with 0x, or decimal), found \"12ab\"",
        ),
        ("0x10 X\n", "t.addr:1:6: expected R or W, found \"X\""),
        (
            "0x10 R extra\n",
            "t.addr:1:8: expected end of line, found \"extra\"",
        ),
        (
            "18446744073709551616\n",
            "t.addr:1:1: expected an address of at most 64 bits, found \"18446744073709551616\"",
        ),
    ];
    for (text, message) in cases {
        assert_eq!(error_of(addrs(text)), message, "input {text:?}");
    }
}

fn sample_refs() -> Vec<MemRef> {
    vec![
        MemRef::fetch(0x400000, 4),
        MemRef::read(0x7fff_0000, 8),
        MemRef {
            value: Some(0xdead_beef),
            ..MemRef::write(0x1234, 4)
        },
        MemRef::write(u64::MAX, u32::MAX),
    ]
}

fn bin_bytes(refs: &[MemRef]) -> Vec<u8> {
    let mut w = BinWriter::new(Vec::new()).unwrap();
    for r in refs {
        w.write(r).unwrap();
    }
    w.finish().unwrap()
}

#[test]
fn binary_layout_is_as_documented() {
    let bytes = bin_bytes(&[
        MemRef::write(0x0102_0304_0506_0708, 8),
        MemRef {
            value: Some(7),
            ..MemRef::fetch(1, 2)
        },
    ]);
    let mut want = b"\x89VMT\r\n\x1a\n\x02\x00\x10\x00\x00\x00\x00\x00".to_vec();
    want.extend_from_slice(&[8, 7, 6, 5, 4, 3, 2, 1, 8, 0, 0, 0, 1, 0, 0, 0]);
    want.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2, 1, 0, 0]);
    want.extend_from_slice(&[7, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(bytes, want);
}

#[test]
fn binary_errors() {
    let good = bin_bytes(&sample_refs());
    let read =
        |b: &[u8]| -> Vec<Result<MemRef, TraceError>> { BinReader::new(b, "t.bin").collect() };
    assert_eq!(
        error_of(read(b"not a trace at all")),
        "t.bin: byte 0: expected the vmlab-bin magic 89 56 4d 54 0d 0a 1a 0a, found [6e, 6f, 74, 20, 61, 20, 74, 72]"
    );
    let mut v3 = good.clone();
    v3[8] = 3;
    assert_eq!(
        error_of(read(&v3)),
        "t.bin: byte 8: expected format version 1 or 2, found version 3"
    );
    let cut = &good[..good.len() - 3];
    assert_eq!(
        error_of(read(cut)),
        "t.bin: byte 72: expected a whole 16-byte record, found 13 trailing bytes"
    );
    let mut bad_kind = good.clone();
    bad_kind[16 + 12] = 9;
    assert_eq!(
        error_of(read(&bad_kind)),
        "t.bin: byte 28: expected a kind of 0, 1, 2 or 3, found 9"
    );
    let mut bad_flags = good.clone();
    bad_flags[16 + 13] = 4;
    assert_eq!(
        error_of(read(&bad_flags)),
        "t.bin: byte 29: expected flags of 0 or 1, found 4"
    );
    let no_value = &good[..16 + 16 + 16 + 16 + 4];
    assert_eq!(
        error_of(read(no_value)),
        "t.bin: byte 64: expected the record's 8-byte value, found 4 trailing bytes"
    );
    // An access of no bytes would silently vanish from the run.
    let mut zero_size = good.clone();
    zero_size[16 + 8..16 + 12].fill(0);
    let expected = "t.bin: byte 24: expected a size of at least 1, found 0";
    assert_eq!(error_of(read(&zero_size)), expected);
    let by_chunks = ops_of(BinReader::new(&zero_size[..], "t.bin"));
    assert_eq!(
        by_chunks.last().unwrap().as_ref().unwrap_err().to_string(),
        expected
    );
}

proptest! {
    #[test]
    fn binary_round_trip(raw in proptest::collection::vec(
        (any::<u64>(), 1..=u32::MAX, 0..3u8, proptest::option::of(any::<u64>())), 0..200)
    ) {
        let refs: Vec<MemRef> = raw.into_iter().map(|(addr, size, k, value)| MemRef {
            addr,
            size,
            kind: [AccessKind::Read, AccessKind::Write, AccessKind::Fetch][usize::from(k)],
            value,
        }).collect();
        let bytes = bin_bytes(&refs);
        let back: Vec<MemRef> = BinReader::new(&bytes[..], "p").map(Result::unwrap).collect();
        prop_assert_eq!(back, refs);
    }
}

fn oracle_record(clock: u32, obj: u64, size: u32, next: i64) -> Vec<u8> {
    let mut v = clock.to_le_bytes().to_vec();
    v.extend_from_slice(&obj.to_le_bytes());
    v.extend_from_slice(&size.to_le_bytes());
    v.extend_from_slice(&next.to_le_bytes());
    assert_eq!(v.len(), 24);
    v
}

#[test]
fn oracle_general_objects_get_pages_in_order_of_first_appearance() {
    // Hashed ids spread over 64 bits, as real traces have them.
    let (a, b) = (0x9c86_c933_b542_e3a1, 0x0000_0000_0000_0007);
    let mut bytes = oracle_record(1, a, 4096, 2);
    bytes.extend(oracle_record(1, b, 100, -1));
    bytes.extend(oracle_record(2, a, 4096, i64::MAX));
    let refs: Vec<MemRef> = OracleReader::new(&bytes[..], "o", ReadOptions::default())
        .map(Result::unwrap)
        .collect();
    let first = trace::oracle::FIRST_OBJECT_ADDR;
    assert_eq!(
        refs,
        vec![
            MemRef::read(first, 1),
            MemRef::read(first + 4096, 1),
            MemRef::read(first, 1)
        ]
    );
    bytes.extend_from_slice(&[0; 10]);
    let v: Vec<_> = OracleReader::new(&bytes[..], "o", ReadOptions::default()).collect();
    assert_eq!(
        error_of(v),
        "o: byte 72: expected a whole 24-byte record, found 10 trailing bytes"
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

#[test]
fn compressed_inputs_decode_identically() {
    let plain = ok(lackey(LACKEY));
    for packed in [gzip(LACKEY.as_bytes()), zstd(LACKEY.as_bytes())] {
        let r = open_bytes(packed, None, ReadOptions::default()).unwrap();
        assert_eq!(r.format(), TraceFormat::Lackey);
        assert_eq!(r.map(Result::unwrap).collect::<Vec<_>>(), plain);
    }
    let refs = sample_refs();
    let bin = bin_bytes(&refs);
    for packed in [gzip(&bin), zstd(&bin)] {
        let r = open_bytes(packed, None, ReadOptions::default()).unwrap();
        assert_eq!(r.format(), TraceFormat::VmlabBin);
        assert_eq!(r.map(Result::unwrap).collect::<Vec<_>>(), refs);
    }
}

#[test]
fn formats_are_detected_and_named() {
    assert_eq!(detect(LACKEY.as_bytes()), Some(TraceFormat::Lackey));
    assert_eq!(detect(b"# addresses\n0x1000 R\n"), Some(TraceFormat::Addr));
    assert_eq!(detect(&bin_bytes(&[])), Some(TraceFormat::VmlabBin));
    assert_eq!(
        detect(&oracle_record(0, 1, 1, 1)),
        Some(TraceFormat::OracleGeneral)
    );
    assert_eq!(detect(b"hello\n"), None);
    for f in TraceFormat::ALL {
        assert_eq!(f.name().parse::<TraceFormat>().unwrap(), f);
    }
    assert_eq!(
        "csv".parse::<TraceFormat>().unwrap_err().to_string(),
        "expected a trace format (lackey, addr, vmlab-bin or oracle-general), found \"csv\""
    );
    let e = open_bytes(b"hello\n".to_vec(), None, ReadOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "mem: expected a trace in a recognisable format (give the format explicitly), \
         found neither lackey text, an address list nor vmlab-bin"
    );
}

#[test]
fn open_reads_files_and_reports_skips() {
    let dir = std::env::temp_dir().join(format!("vmlab-readers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.addr.gz");
    std::fs::write(&path, gzip(b"0x10\nbad\n0x20 W\n")).unwrap();
    let mut r = trace::open(&path, Some(TraceFormat::Addr), skip()).unwrap();
    let refs: Vec<MemRef> = r.by_ref().map(Result::unwrap).collect();
    assert_eq!(refs, vec![MemRef::read(0x10, 1), MemRef::write(0x20, 1)]);
    assert_eq!(r.skipped(), 1);
    let e = trace::open(&dir.join("missing"), None, ReadOptions::default()).unwrap_err();
    assert!(e.is_io());
    assert!(e
        .to_string()
        .starts_with(&format!("{}: ", dir.join("missing").display())));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `ops` with errors as their messages, to compare.
fn as_text(ops: impl IntoIterator<Item = Result<Op, TraceError>>) -> Vec<Result<Op, String>> {
    ops.into_iter()
        .map(|op| op.map_err(|e| e.to_string()))
        .collect()
}

/// Every op of `r` with errors as their messages, and the skip count.
fn ops_and_skips(mut r: TraceReader) -> (Vec<Result<Op, String>>, u64) {
    let ops = as_text(std::iter::from_fn(|| r.next_op()));
    (ops, r.skipped())
}

/// `trace::open` reads a regular file in place (mapped); the same bytes
/// read as a stream must give the same ops, errors and skips: lines and
/// records across the whole file (past several of the mapping's 2 MiB
/// release steps), an overlong line, a bad line, a last line with no
/// newline, system calls, format detection.
#[test]
fn files_read_in_place_decode_as_streams_do() {
    let dir = std::env::temp_dir().join(format!("vmlab-mapped-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut lackey = String::from(LACKEY_SYSCALLS);
    for i in 0..400_000u64 {
        lackey.push_str(&format!(" L {:x},{}\n", i * 0x1_0001, 1 + i % 8));
        if i % 1000 == 0 {
            lackey.push_str("I  0401ab70,3\n M 0421d7c0,2\n");
        }
    }
    lackey.push_str(&"7".repeat(3 << 20));
    lackey.push_str("\n L zz,4\n S 04222cac,4");
    let refs: Vec<MemRef> = (0..700_000u64)
        .map(|i| MemRef::write(i * 0x1001, 1 + (i % 8) as u32))
        .collect();
    let mut long_last = b"0x10\n".to_vec();
    long_last.extend(std::iter::repeat_n(b'1', 2 << 20));
    // Detection looks at the same first bytes either way: a NUL byte far
    // in is a bad line, not a sign of a binary format.
    let mut nul_late = " L 10,4\n".repeat(40_000).into_bytes();
    nul_late.extend_from_slice(b" L \0,4\n");
    let files: [(&str, Vec<u8>, Option<TraceFormat>); 5] = [
        ("big.lackey", lackey.into_bytes(), None),
        ("nul-late.lackey", nul_late, None),
        ("big.vmt", bin_bytes(&refs), None),
        ("syscalls.vmt", bin_ops(&syscall_ops()), None),
        ("long-last.addr", long_last, Some(TraceFormat::Addr)),
    ];
    for (name, bytes, format) in files {
        let path = dir.join(name);
        std::fs::write(&path, &bytes).unwrap();
        for opts in [ReadOptions::default(), skip()] {
            let opened = trace::open(&path, format, opts).unwrap();
            // Only a binary format mapped in place is cheap enough to read
            // in line beside the simulation.
            assert_eq!(opened.cheap_to_read(), name.ends_with(".vmt"), "{name}");
            let mapped = ops_and_skips(opened);
            let file = std::fs::File::open(&path).unwrap();
            let shown = path.display().to_string();
            let streamed = trace::from_reader(Box::new(file), shown, format, opts).unwrap();
            assert!(!streamed.cheap_to_read(), "{name} through a pipe");
            let streamed = ops_and_skips(streamed);
            assert!(!mapped.0.is_empty(), "{name}");
            assert_eq!(mapped, streamed, "{name}");
        }
        let chunked = as_text(
            match trace::open(&path, format, ReadOptions::default()).unwrap() {
                TraceReader::Lackey(r) => ops_of(r),
                TraceReader::Addr(r) => ops_of(r),
                TraceReader::VmlabBin(r) => ops_of(r),
                TraceReader::OracleGeneral(_) => unreachable!("no oracleGeneral file here"),
            },
        );
        let by_op = ops_and_skips(trace::open(&path, format, ReadOptions::default()).unwrap()).0;
        assert_eq!(chunked, by_op, "{name}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_checked_in_sample_reads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/small.lackey");
    let r = trace::open(path.as_ref(), None, ReadOptions::default()).unwrap();
    let refs: Vec<MemRef> = r.map(Result::unwrap).collect();
    assert_eq!(refs.len(), 8);
    assert_eq!(refs[0], MemRef::fetch(0x108f10, 4));
}

#[test]
fn records_straddling_buffer_refills_decode() {
    // Far more than one 256 KiB block, with lines and records of uneven
    // length so some straddle every refill.
    let refs: Vec<MemRef> = (0..100_000u64)
        .map(|i| MemRef {
            value: (i % 3 == 0).then_some(i * 7),
            ..MemRef::read(i * 0x1_0001, 1 + (i % 8) as u32)
        })
        .collect();
    let mut text = String::new();
    for r in &refs {
        text.push_str(&format!(" L {:x},{}\n", r.addr, r.size));
    }
    let back = ok(lackey(&text));
    assert_eq!(back.len(), refs.len());
    assert!(back
        .iter()
        .zip(&refs)
        .all(|(a, b)| a.addr == b.addr && a.size == b.size));

    let bin = bin_bytes(&refs);
    let back: Vec<MemRef> = BinReader::new(&bin[..], "b").map(Result::unwrap).collect();
    assert_eq!(back, refs);
}

// System calls in traces: Valgrind's --trace-syscalls lines (copied from
// a real `valgrind --tool=lackey --trace-syscalls=yes` run, 3.19) and
// vmlab-bin version 2 records.

use vmlab_workload::op::Op;
use vmlab_workload::syscall::{AddressCall, Syscall};

const LACKEY_SYSCALLS: &str = "\
==23559== Command: ./t
I  0401ab70,3
SYSCALL[23559,1](12) sys_brk ( 0x0 ) --> [pre-success] Success(0x4035000) 
SYSCALL[23559,1](257) sys_openat ( 4294967196, 0x4034bb0(/usr/libexec/valgrind/vgpreload_core-amd64-linux.so), 524288 ) --> [async] ... 
SYSCALL[23559,1](257) ... [async] --> Success(0x4) 
SYSCALL[23559,1](9) sys_mmap ( 0x0, 16400, 1, 2050, 4, 0 ) --> [pre-success] Success(0x4837000) 
 S 04837000,8
SYSCALL[23559,1](334) unimplemented (by the kernel) syscall: 334! (ni_syscall)
 --> [pre-fail] Failure(0x26) 
SYSCALL[23559,1](10) sys_mprotect ( 0x4a14000, 16384, 1 )[sync] --> Success(0x0) 
SYSCALL[23559,1](11) sys_munmap ( 0x483c000, 33699 )[sync] --> Success(0x0) 
SYSCALL[26380,1](25) sys_mremap ( 0x483c000, 32768, 262144, 0x1 ) --> [pre-success] Success(0x4b2b000) 
SYSCALL[26380,1](9) sys_mmap ( 0x1, 4096, 99, 2, 77, 0 ) --> [pre-fail] Failure(0x16) 
SYSCALL[23559,1](231) exit_group( 0 ) --> [pre-success] Success(0x0) 
";

fn lackey_ops(text: &str) -> Vec<Result<Op, TraceError>> {
    let mut r = LackeyReader::new(text.as_bytes(), "t.lackey", ReadOptions::default());
    std::iter::from_fn(|| r.next_op()).collect()
}

fn sys(call: AddressCall, result: Result<u64, i32>) -> Op {
    Op::Syscall(Syscall { call, result })
}

fn syscall_ops() -> Vec<Op> {
    vec![
        Op::Access(MemRef::fetch(0x0401_ab70, 3)),
        sys(AddressCall::Brk { addr: 0 }, Ok(0x403_5000)),
        sys(
            AddressCall::Mmap {
                addr: 0,
                len: 16400,
                prot: 1,
                flags: 2050,
                fd: 4,
                offset: 0,
            },
            Ok(0x483_7000),
        ),
        Op::Access(MemRef::write(0x0483_7000, 8)),
        sys(
            AddressCall::Mprotect {
                addr: 0x4a1_4000,
                len: 16384,
                prot: 1,
            },
            Ok(0),
        ),
        sys(
            AddressCall::Munmap {
                addr: 0x483_c000,
                len: 33699,
            },
            Ok(0),
        ),
        sys(
            AddressCall::Mremap {
                old_addr: 0x483_c000,
                old_len: 32768,
                new_len: 262_144,
                flags: 1,
                new_addr: 0,
            },
            Ok(0x4b2_b000),
        ),
        sys(
            AddressCall::Mmap {
                addr: 1,
                len: 4096,
                prot: 99,
                flags: 2,
                fd: 77,
                offset: 0,
            },
            Err(22),
        ),
    ]
}

#[test]
fn lackey_keeps_address_space_calls_in_order() {
    let ops: Vec<Op> = lackey_ops(LACKEY_SYSCALLS)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ops, syscall_ops());
    // The plain iterator gives the accesses alone.
    assert_eq!(
        ok(lackey(LACKEY_SYSCALLS)),
        vec![MemRef::fetch(0x0401_ab70, 3), MemRef::write(0x0483_7000, 8)]
    );
    let head = LACKEY_SYSCALLS.lines().nth(2).unwrap();
    assert_eq!(detect(head.as_bytes()), Some(TraceFormat::Lackey));
}

#[test]
fn malformed_syscall_lines_name_line_and_column() {
    let cases = [
        (
            "SYSCALL[1,1](9) sys_mmap ( 0x0, zz, 3, 34, 4294967295, 0 ) --> [pre-success] Success(0x1000)",
            "t.lackey:1:33: expected a number (hex with 0x, or decimal), found \"zz\"",
        ),
        (
            "SYSCALL[1,1](11) sys_munmap ( 0x1000 )[sync] --> Success(0x0)",
            "t.lackey:1:38: expected munmap's 2 arguments, found \")[sync]\"",
        ),
        (
            "SYSCALL[1,1](12) sys_brk ( 0x0 ) --> [async] ... ",
            "t.lackey:1:46: expected Success(HEX) or Failure(HEX) (these calls complete at once), found \"...\"",
        ),
        (
            "SYSCALL[1,1](12) sys_brk ( 0x0 )",
            "t.lackey:1:33: expected \"-->\" and the call's result, found end of line",
        ),
        (
            "SYSCALL[1,1](10) sys_mprotect ( 0x1000, 4096; 1 ) --> Success(0x0)",
            "t.lackey:1:45: expected \",\" or \")\" after an argument, found \";\"",
        ),
        (
            "SYSCALL[1,1](10) sys_mprotect ( 0x1000, 4096, 0x100000000 ) --> Success(0x0)",
            "t.lackey:1:47: expected a value that fits the argument (32 bits for prot, flags and fd), found \"0x100000000\"",
        ),
        (
            "SYSCALL[1,1](12) sys_brk ( 0x0 ) --> Success(0x10",
            "t.lackey:1:50: expected \")\" after the result, found end of line",
        ),
        (
            "SYSCALL[1,1](12) sys_brk ( 0x0 ) --> Success(0x1000) junk",
            "t.lackey:1:54: expected end of line, found \"junk\"",
        ),
        (
            "SYSCALL[oops",
            "t.lackey:1:9: expected \"PID,TID](NUMBER)\" after SYSCALL[, found \"oops\"",
        ),
    ];
    for (line, message) in cases {
        let text = format!("I  0401ab70,3\n{line}\n");
        let err = lackey_ops(&text).pop().unwrap().unwrap_err();
        let err = err.to_string().replace(":2:", ":1:");
        assert_eq!(err, message, "line {line:?}");
    }
    // Skip mode counts a bad call line like any other.
    let text = "SYSCALL[1,1](12) sys_brk ( ) --> Success(0x0)\nI  10,1\n";
    let mut r = LackeyReader::new(text.as_bytes(), "t", skip());
    assert_eq!(r.next().unwrap().unwrap(), MemRef::fetch(16, 1));
    assert_eq!(r.skipped(), 1);
}

fn bin_ops(ops: &[Op]) -> Vec<u8> {
    let mut w = BinWriter::new(Vec::new()).unwrap();
    for op in ops {
        w.write_op(op).unwrap();
    }
    w.finish().unwrap()
}

#[test]
fn binary_syscalls_round_trip_and_layout() {
    let ops = syscall_ops();
    let bytes = bin_ops(&ops);
    let mut r = BinReader::new(&bytes[..], "t.bin");
    let back: Vec<Op> = std::iter::from_fn(|| r.next_op())
        .map(Result::unwrap)
        .collect();
    assert_eq!(back, ops);
    // The brk record, right after the header and the first access.
    let rec = &bytes[32..96];
    assert_eq!(&rec[..8], &0x403_5000u64.to_le_bytes());
    assert_eq!(rec[8..16], [0, 0, 0, 0, 3, 0, 0, 0]);
    assert!(rec[16..].iter().all(|&b| b == 0));
    // The failed mmap: flags bit 1, errno 22, fd 77.
    let last = &bytes[bytes.len() - 64..];
    assert_eq!((last[0], last[12], last[13], last[14]), (22, 3, 2, 1));
    assert_eq!(&last[48..56], &77u64.to_le_bytes());
    // Through the format-detecting, zstd-undoing path as well.
    let mut r = open_bytes(zstd(&bytes), None, ReadOptions::default()).unwrap();
    let back: Vec<Op> = r.ops().map(Result::unwrap).collect();
    assert_eq!(back, ops);
}

/// Read a chunk at a time, a vmlab-bin trace gives what `next_op` gives:
/// plain records in batches (across batch and buffer edges), records with
/// a value and system calls the one-record way, and an error after the
/// accesses before it.
#[test]
fn binary_chunks_give_what_next_op_gives() {
    let mut ops = Vec::new();
    for i in 0..3000u64 {
        let r = match i % 3 {
            0 => MemRef::read(i * 8, 8),
            1 => MemRef::write(i * 8, 4),
            _ => MemRef::fetch(i * 8, 2),
        };
        ops.push(Op::Access(if i % 700 == 5 {
            MemRef {
                value: Some(i),
                ..r
            }
        } else {
            r
        }));
        if i % 900 == 300 || i == 256 {
            ops.extend(
                syscall_ops()
                    .into_iter()
                    .filter(|op| matches!(op, Op::Syscall(_))),
            );
        }
    }
    let mut bytes = bin_ops(&ops);
    // A record of an unknown kind at the end.
    bytes.extend([0u8; 12].iter().chain(&[9, 0, 0, 0]));
    let collect_ops = |bytes: &[u8]| {
        let mut r = BinReader::new(bytes, "t.bin");
        as_text(std::iter::from_fn(|| r.next_op()))
    };
    let collect_chunks = |bytes: &[u8]| as_text(ops_of(BinReader::new(bytes, "t.bin")));
    let want = collect_ops(&bytes);
    assert_eq!(want.len(), ops.len() + 1);
    assert!(want.last().unwrap().is_err());
    assert_eq!(collect_chunks(&bytes), want);
    // A run of plain records longer than a batch still comes a batch at a
    // time: a file read in place would otherwise be decoded whole.
    use vmlab_workload::chunk::{Chunk, ChunkedOps, BATCH_ACCESSES};
    let mut reader = BinReader::new(&bytes[..], "t.bin");
    let mut largest = 0;
    while let Some(Ok(chunk)) = reader.read_chunk() {
        if let Chunk::Accesses(accesses) = chunk {
            largest = largest.max(accesses.len());
        }
    }
    assert_eq!(largest, BATCH_ACCESSES);
}

#[test]
fn binary_syscall_errors() {
    let bytes = bin_ops(&syscall_ops()[..2]);
    let read = |b: &[u8]| -> Vec<Result<Op, TraceError>> {
        let mut r = BinReader::new(b, "t.bin");
        std::iter::from_fn(|| r.next_op()).collect()
    };
    let err = |b: &[u8]| read(b).pop().unwrap().unwrap_err().to_string();
    // Version 1 files have no system calls: kind 3 is unknown there.
    let mut v1 = bytes.clone();
    v1[8] = 1;
    assert_eq!(
        err(&v1),
        "t.bin: byte 44: expected a kind of 0, 1 or 2 (version 1 has no system calls), found 3"
    );
    assert_eq!(
        err(&bytes[..bytes.len() - 1]),
        "t.bin: byte 32: expected a whole 64-byte system call record, found 63 trailing bytes"
    );
    let mut bad_call = bytes.clone();
    bad_call[32 + 14] = 7;
    assert_eq!(
        err(&bad_call),
        "t.bin: byte 46: expected a call of 0 to 4 (brk, mmap, munmap, mprotect, mremap), found 7"
    );
    let mut bad_flags = bytes.clone();
    bad_flags[32 + 13] = 1;
    assert_eq!(
        err(&bad_flags),
        "t.bin: byte 45: expected system call flags of 0 or 2, found 1"
    );
    // A v1 file still reads (the plain iterator skips calls in v2 ones).
    let mut w = bin_bytes(&sample_refs());
    w[8] = 1;
    assert_eq!(ok(BinReader::new(&w[..], "t.bin").collect()), sample_refs());
    assert_eq!(
        ok(BinReader::new(&bytes[..], "t.bin").collect()),
        vec![MemRef::fetch(0x0401_ab70, 3)]
    );
}

/// A generator's trace is written as version 1, which has no system
/// calls, so a reader can say so before its first record (the full
/// model's lean engine relies on it); a version 2 file cannot, and a
/// header that is wrong is still the first read's error.
#[test]
fn a_trace_of_accesses_alone_says_so_in_its_header() {
    use vmlab_workload::chunk::ChunkedOps;
    let refs = [MemRef::read(0x1000, 8), MemRef::write(0x2008, 4)];
    let mut w = BinWriter::accesses_only(Vec::new()).unwrap();
    for r in &refs {
        w.write(r).unwrap();
    }
    let call = Syscall {
        call: AddressCall::Brk { addr: 0 },
        result: Ok(0),
    };
    let refused = w.write_syscall(&call).unwrap_err();
    assert!(refused.to_string().contains("no system calls"), "{refused}");
    let v1 = w.finish().unwrap();
    assert_eq!(&v1[8..10], &[1, 0], "version 1");
    let mut reader = BinReader::new(v1.as_slice(), "t.vmt");
    assert!(reader.accesses_only());
    let read: Vec<MemRef> = reader.map(Result::unwrap).collect();
    assert_eq!(read, refs);

    let v2 = bin_bytes(&refs);
    let v2_only = BinReader::new(v2.as_slice(), "t.vmt").accesses_only();
    assert!(!v2_only, "a version 2 file may carry calls");
    let addr_only =
        AddrReader::new(&b"0x10\n"[..], "t.addr", ReadOptions::default()).accesses_only();
    assert!(addr_only, "an address list has no call lines");
    let lackey =
        LackeyReader::new(&b" L 10,1\n"[..], "t.lackey", ReadOptions::default()).accesses_only();
    assert!(!lackey, "a lackey stream may print system calls further on");

    let mut bad = BinReader::new(&b"not a trace at all"[..], "bad.vmt");
    assert!(!bad.accesses_only());
    let first = bad.next().unwrap().unwrap_err().to_string();
    assert!(
        first.contains("bad.vmt") && first.contains("magic"),
        "{first}"
    );
}

/// A lackey file read in place is searched for system-call lines before
/// it is read, so one without any (Valgrind's plain `--trace-mem=yes`
/// output) runs on the full model's lean engine: the search finds a call
/// anywhere, across the mapping's 2 MiB steps too, and the file then
/// reads whole from its first line, as if never searched.
#[test]
fn a_lackey_file_without_system_calls_says_so() {
    use vmlab_workload::chunk::ChunkedOps;
    let dir = std::env::temp_dir().join(format!("vmlab-calls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // 5 MiB of loads, and a call line placed among them.
    let line = " L 7ff000a0,8\n";
    let lines = (5 << 20) / line.len();
    let loads = line.repeat(lines);
    let call = "SYSCALL[23559,1](12) sys_brk ( 0x0 ) --> [pre-success] Success(0x4035000)\n";
    // Whole lines, then blanks (lackey allows them) up to the point where
    // the call's mark starts 2 bytes before the first 2 MiB step ends.
    let before = ((2 << 20) - 4) / line.len();
    let pad = (2 << 20) - 2 - before * line.len();
    let straddling = format!(
        "{}{}{call}{}",
        line.repeat(before),
        " ".repeat(pad),
        line.repeat(lines - before)
    );
    let cases = [
        ("none", loads.clone(), true),
        ("first line", format!("{call}{loads}"), false),
        ("last line", format!("{loads}{call}"), false),
        ("straddling a step", straddling, false),
    ];
    for (case, text, alone) in cases {
        let path = dir.join("t.lackey");
        std::fs::write(&path, &text).unwrap();
        let mut reader = trace::open(&path, None, ReadOptions::default()).unwrap();
        let TraceReader::Lackey(lackey) = &mut reader else {
            panic!("{case}: not read as lackey");
        };
        assert_eq!(lackey.accesses_only(), alone, "{case}");
        let ops = ops_of(lackey);
        let calls = ops
            .iter()
            .filter(|op| matches!(op, Ok(Op::Syscall(_))))
            .count();
        assert_eq!(calls, usize::from(!alone), "{case}");
        let accesses = ops
            .iter()
            .filter(|op| matches!(op, Ok(Op::Access(_))))
            .count();
        assert_eq!(accesses, text.matches(" L ").count(), "{case}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// How far through its file a reader is, where the file's length is
/// known: a file read in place by its position, a compressed one by what
/// the decompressor has read of it; a stream of unknown length, not.
#[test]
fn readers_of_files_know_how_far_they_have_read() {
    use vmlab_workload::chunk::ChunkedOps;
    let dir = std::env::temp_dir().join(format!("vmlab-fraction-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Random-looking addresses, so the compressed file is long enough to
    // be read in several pieces.
    let mut text = String::new();
    let mut x = 1u64;
    for _ in 0..300_000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        text.push_str(&format!(" L {:x},8\n", x >> 20));
    }
    let plain = dir.join("t.lackey");
    std::fs::write(&plain, &text).unwrap();
    let packed = dir.join("t.lackey.zst");
    std::fs::write(&packed, zstd(text.as_bytes())).unwrap();
    for path in [&plain, &packed] {
        let Ok(TraceReader::Lackey(mut r)) = trace::open(path, None, ReadOptions::default()) else {
            panic!("{}: a lackey reader", path.display());
        };
        // Only what finding the format read (of the compressed file,
        // what gave its first 64 KiB).
        let start = r.fraction_read().unwrap();
        assert!(start < 0.2, "{}: {start}", path.display());
        let mut heard = Vec::new();
        while let Some(chunk) = r.read_chunk() {
            chunk.unwrap();
            heard.push(r.fraction_read().unwrap());
        }
        assert!(heard.windows(2).all(|w| w[0] <= w[1]), "{}", path.display());
        let midway = heard[heard.len() / 2];
        assert!(midway > 0.2 && midway < 0.8, "{}: {midway}", path.display());
        assert_eq!(heard.last(), Some(&1.0), "{}", path.display());
    }
    let stream = trace::from_reader(
        Box::new(std::io::Cursor::new(text.into_bytes())),
        "<stream>",
        None,
        ReadOptions::default(),
    );
    let Ok(TraceReader::Lackey(r)) = stream else {
        panic!("a lackey reader");
    };
    assert_eq!(r.fraction_read(), None);
    std::fs::remove_dir_all(&dir).unwrap();
}
