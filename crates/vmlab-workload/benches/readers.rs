//! Reader throughput (criterion, elements = records): lackey text and
//! vmlab-bin decoded from generated in-memory inputs, through the
//! concrete readers, through [`trace::from_reader`]'s boxed,
//! format-dispatching path (what `vmlab run --trace` uses), and as
//! [`Op`]s with system calls mixed in (what `vmlab record`'s traces hold);
//! plus lackey text read and simulated at page granularity (the
//! replacement model). Issue 6 targets 30 M lackey lines/s read and
//! simulated, and 100 M binary records/s.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]
#![allow(clippy::unwrap_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::io::Write;
use vmlab_hw::arch::presets;
use vmlab_workload::driver::{run, Machine, Model};
use vmlab_workload::gen::GenSpec;
use vmlab_workload::op::{MemRef, Op};
use vmlab_workload::syscall::{AddressCall, Syscall};
use vmlab_workload::trace::{self, BinReader, BinWriter, LackeyReader, ReadOptions};

const RECORDS: usize = 2_000_000;
/// One system call per this many accesses in the mixed inputs (a real
/// program's trace has far fewer).
const CALL_EVERY: usize = 1000;

/// Consumes `refs`, returning how many there were, keeping the work alive.
fn drain(refs: impl Iterator<Item = Result<MemRef, trace::TraceError>>) -> usize {
    let mut n = 0;
    let mut sum = 0u64;
    for r in refs {
        sum = sum.wrapping_add(r.unwrap().addr);
        n += 1;
    }
    black_box(sum);
    n
}

/// Like [`drain`] for [`Op`]s.
fn drain_ops(ops: impl Iterator<Item = Result<Op, trace::TraceError>>) -> usize {
    let mut n = 0;
    let mut sum = 0u64;
    for op in ops {
        sum = sum.wrapping_add(match op.unwrap() {
            Op::Access(r) => r.addr,
            Op::Syscall(c) => c.result.unwrap_or(0),
        });
        n += 1;
    }
    black_box(sum);
    n
}

struct Inputs {
    text: &'static [u8],
    text_with_calls: &'static [u8],
    bin: &'static [u8],
    bin_with_calls: &'static [u8],
    zst: &'static [u8],
}

fn inputs() -> Inputs {
    let refs: Vec<MemRef> = "zipf:pages=1000000,alpha=1.0,n=2000000,write=0.3,seed=1"
        .parse::<GenSpec>()
        .unwrap()
        .stream()
        .take(RECORDS)
        .collect();
    let call = |i: usize| Syscall {
        call: AddressCall::Mmap {
            addr: 0,
            len: 8192,
            prot: 3,
            flags: 0x22,
            fd: -1,
            offset: 0,
        },
        result: Ok(0x4835000 + 0x2000 * i as u64),
    };
    let mut text = Vec::with_capacity(RECORDS * 20);
    let mut text_with_calls = Vec::with_capacity(RECORDS * 20);
    let mut w = BinWriter::new(Vec::with_capacity(RECORDS * 16 + 16)).unwrap();
    let mut wc = BinWriter::new(Vec::with_capacity(RECORDS * 16 + 16)).unwrap();
    for (i, r) in refs.iter().enumerate() {
        let k = match (i % 3, r.kind) {
            (0, _) => "I ",
            (_, vmlab_hw::AccessKind::Write) => " S",
            _ => " L",
        };
        writeln!(text, "{k} {:08x},{}", r.addr, r.size).unwrap();
        writeln!(text_with_calls, "{k} {:08x},{}", r.addr, r.size).unwrap();
        w.write(r).unwrap();
        wc.write(r).unwrap();
        if i % CALL_EVERY == 0 {
            let c = call(i);
            writeln!(
                text_with_calls,
                "SYSCALL[1,1](9) sys_mmap ( 0x0, 8192, 3, 34, 4294967295, 0 ) --> [pre-success] Success({:#x}) ",
                c.result.unwrap()
            )
            .unwrap();
            wc.write_syscall(&c).unwrap();
        }
    }
    // Leaked so boxed readers can borrow them for 'static without a copy
    // inside the timed region.
    let bin: &'static [u8] = w.finish().unwrap().leak();
    Inputs {
        text: text.leak(),
        text_with_calls: text_with_calls.leak(),
        bin,
        bin_with_calls: wc.finish().unwrap().leak(),
        zst: zstd::encode_all(bin, 3).unwrap().leak(),
    }
}

fn readers(c: &mut Criterion) {
    let inputs = inputs();
    let opts = ReadOptions::default();
    let mut g = c.benchmark_group("readers");
    g.sample_size(10);
    g.throughput(Throughput::Elements(RECORDS as u64));
    g.bench_function("lackey text, LackeyReader<&[u8]>", |b| {
        b.iter(|| drain(LackeyReader::new(inputs.text, "bench", opts)));
    });
    g.bench_function("lackey text, trace::from_reader", |b| {
        b.iter(|| {
            let src = Box::new(inputs.text);
            drain(trace::from_reader(src, "bench", None, opts).unwrap())
        });
    });
    g.bench_function("lackey text with system calls, ops", |b| {
        b.iter(|| {
            let src = Box::new(inputs.text_with_calls);
            drain_ops(trace::from_reader(src, "bench", None, opts).unwrap().ops())
        });
    });
    g.bench_function("vmlab-bin, BinReader<&[u8]>", |b| {
        b.iter(|| drain(BinReader::new(inputs.bin, "bench")));
    });
    g.bench_function("vmlab-bin, trace::from_reader", |b| {
        b.iter(|| {
            let src = Box::new(inputs.bin);
            drain(trace::from_reader(src, "bench", None, opts).unwrap())
        });
    });
    g.bench_function("vmlab-bin with system calls, ops", |b| {
        b.iter(|| {
            let src = Box::new(inputs.bin_with_calls);
            drain_ops(trace::from_reader(src, "bench", None, opts).unwrap().ops())
        });
    });
    g.bench_function("vmlab-bin.zst, trace::from_reader", |b| {
        b.iter(|| {
            let src = Box::new(inputs.zst);
            drain(trace::from_reader(src, "bench", None, opts).unwrap())
        });
    });
    // Read and simulate: which pages are resident in 10 000 frames (LRU).
    let machine = Machine {
        arch: presets::by_name("x86-64").unwrap().unwrap(),
        frames: 10_000,
        policy: "lru".into(),
        tlb: None,
        future: None,
    };
    g.bench_function("lackey text, read and simulated (replacement, lru)", |b| {
        b.iter(|| {
            let src = Box::new(inputs.text);
            let reader = trace::from_reader(src, "bench", None, opts).unwrap();
            run(reader, &machine, Model::Replacement)
                .unwrap()
                .references
        });
    });
    g.finish();
}

criterion_group!(benches, readers);
criterion_main!(benches);
