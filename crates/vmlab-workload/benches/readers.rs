//! Reader throughput: lackey text and vmlab-bin decoded from generated
//! in-memory inputs, through the concrete readers and through
//! [`trace::from_reader`]'s boxed, format-dispatching path (what `vmlab run
//! --trace` uses). Prints millions of records per second; issue 6 targets
//! 30 M lackey lines/s and 100 M binary records/s.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;
use vmlab_workload::gen::GenSpec;
use vmlab_workload::op::MemRef;
use vmlab_workload::trace::{self, BinReader, BinWriter, LackeyReader, ReadOptions};

const RECORDS: usize = 10_000_000;

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

fn report(what: &str, mut run: impl FnMut() -> usize) {
    // Best of three, to see the code rather than the machine's noise.
    let mut best = f64::INFINITY;
    let mut n = 0;
    for _ in 0..3 {
        let t = Instant::now();
        n = run();
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{what:<40} {:>8.1} M records/s ({n} records)",
        n as f64 / best / 1e6
    );
}

fn main() {
    let refs: Vec<MemRef> = "zipf:pages=1000000,alpha=1.0,n=10000000,write=0.3,seed=1"
        .parse::<GenSpec>()
        .unwrap()
        .stream()
        .take(RECORDS)
        .collect();

    let mut text = Vec::with_capacity(RECORDS * 20);
    for (i, r) in refs.iter().enumerate() {
        use std::io::Write;
        let k = match (i % 3, r.kind) {
            (0, _) => "I ",
            (_, vmlab_hw::AccessKind::Write) => " S",
            _ => " L",
        };
        writeln!(text, "{k} {:08x},{}", r.addr, r.size).unwrap();
    }
    let mut w = BinWriter::new(Vec::with_capacity(RECORDS * 16 + 16)).unwrap();
    for r in &refs {
        w.write(r).unwrap();
    }
    // Leaked so boxed readers can borrow them for 'static without a copy
    // inside the timed region.
    let bin: &'static [u8] = w.finish().unwrap().leak();
    let text: &'static [u8] = text.leak();

    let opts = ReadOptions::default();
    report("lackey text, LackeyReader<&[u8]>", || {
        drain(LackeyReader::new(text, "bench", opts))
    });
    report("lackey text, trace::from_reader", || {
        let src = Box::new(text);
        drain(trace::from_reader(src, "bench", None, opts).unwrap())
    });
    report("vmlab-bin, BinReader<&[u8]>", || {
        drain(BinReader::new(bin, "bench"))
    });
    report("vmlab-bin, trace::from_reader", || {
        let src = Box::new(bin);
        drain(trace::from_reader(src, "bench", None, opts).unwrap())
    });
    let zst: &'static [u8] = zstd::encode_all(bin, 3).unwrap().leak();
    report("vmlab-bin.zst, trace::from_reader", || {
        let src = Box::new(zst);
        drain(trace::from_reader(src, "bench", None, opts).unwrap())
    });
}
