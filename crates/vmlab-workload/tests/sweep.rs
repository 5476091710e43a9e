//! Sweeps: every row equals its configuration run alone through the
//! driver, rows keep their order whatever the thread count, miss-ratio
//! rows equal LRU simulated at each size, and bad dimensions are refused
//! by name.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use vmlab_hw::arch::presets;
use vmlab_workload::driver::{run as drive, Model};
use vmlab_workload::gen::GenSpec;
use vmlab_workload::op::MemRef;
use vmlab_workload::sweep::{self, Memory, MrcMethod, Reading, Source, Sweep};

const SPEC: &str = "zipf:pages=400,alpha=0.9,n=6000,write=0.3,seed=5";

fn source() -> Source {
    Source::Generator(SPEC.parse::<GenSpec>().unwrap())
}

fn sweep() -> Sweep {
    Sweep {
        archs: vec![
            presets::by_name("x86-64").unwrap().unwrap(),
            presets::by_name("aarch64-16k").unwrap().unwrap(),
        ],
        tlbs: vec![None, Some("l1d:8:2,l1i:8:2".into())],
        models: vec![Model::Full, Model::Replacement],
        policies: vec!["lru".into(), "fifo".into(), "clock".into()],
        memory: vec![Memory::Frames(40), Memory::Frames(120)],
    }
}

#[test]
fn each_row_equals_its_configuration_run_alone() {
    let configs = sweep().configurations().unwrap();
    // Full: 2 archs x 2 TLBs x 3 policies x 2 sizes; replacement has no
    // TLB dimension: 2 x 3 x 2.
    assert_eq!(configs.len(), 24 + 12);
    // All of a page size on one reading of the generator's stream.
    let rows = sweep::run(&source(), &configs, configs.len(), &|_| {}).unwrap();
    assert_eq!(rows.len(), configs.len());
    let gen: GenSpec = SPEC.parse().unwrap();
    for (config, row) in configs.iter().zip(&rows) {
        let alone = drive(gen.stream().map(Ok), &config.machine, config.model).unwrap();
        let what = format!("{row:?}");
        assert_eq!(row.arch, alone.arch, "{what}");
        assert_eq!(row.policy, alone.policy, "{what}");
        assert_eq!(row.frames, alone.frames as u64, "{what}");
        assert_eq!(row.references, alone.references, "{what}");
        assert_eq!(row.distinct_pages, Some(alone.distinct_pages), "{what}");
        assert_eq!(row.faults, alone.faults, "{what}");
        assert_eq!(row.fault_rate, alone.fault_rate, "{what}");
        assert_eq!(row.evictions, Some(alone.evictions), "{what}");
        assert_eq!(row.write_backs, Some(alone.write_backs), "{what}");
        assert_eq!(row.tlb_hits, alone.tlb_hits, "{what}");
        assert_eq!(row.walks, alone.walks, "{what}");
        assert_eq!(row.page_table_bytes, alone.page_table_bytes, "{what}");
        assert_eq!(row.mem_bytes, row.frames * row.page_bytes, "{what}");
    }
    // The TLB spec reaches the machine: 8 entries hit less than the default.
    let hits = |tlb: &str| {
        rows.iter()
            .find(|r| r.arch == "x86-64" && r.tlb == tlb && r.policy == "lru" && r.frames == 120)
            .and_then(|r| r.tlb_hit_rate)
            .unwrap()
    };
    assert!(hits("l1d:8:2,l1i:8:2") < hits("default"));
}

#[test]
fn enumeration_order_is_fixed_and_rows_do_not_depend_on_threads() {
    let configs = sweep().configurations().unwrap();
    let first = &configs[0];
    assert_eq!(
        (
            first.machine.arch.name(),
            first.tlb_label.as_str(),
            first.model
        ),
        ("x86-64", "default", Model::Full)
    );
    // Memory sizes innermost, then policies.
    assert_eq!(configs[1].machine.frames, 120);
    assert_eq!(configs[2].machine.policy, "fifo");
    // x86-64's default TLB: L1i 128 + 8 (2M), L1d 64 + 32 (2M) + 4 (1G),
    // L2 1536 + 16 (1G).
    assert_eq!(
        configs[0].tlb_entries,
        Some(128 + 8 + 64 + 32 + 4 + 1536 + 16)
    );
    assert_eq!(configs[2 * 3].tlb_entries, Some(16));
    let on = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| sweep::run(&source(), &configs, 1, &|_| {}).unwrap())
    };
    assert_eq!(on(1), on(4));
}

/// `refs` written to `path` as a vmlab-bin trace, as a sweep's source.
fn binary_trace(refs: impl IntoIterator<Item = MemRef>, path: PathBuf) -> Source {
    let mut w = vmlab_workload::trace::BinWriter::accesses_only(Vec::new()).unwrap();
    for r in refs {
        w.write(&r).unwrap();
    }
    std::fs::write(&path, w.finish().unwrap()).unwrap();
    Source::Trace {
        path,
        format: None,
        skip_bad_lines: false,
    }
}

/// The steps a sweep reports of its progress: in order, each as told.
fn progress_of(source: &Source, configs: &[sweep::Configuration], at_once: usize) -> Vec<u64> {
    let steps = std::sync::Mutex::new(Vec::new());
    sweep::run(source, configs, at_once, &|n| steps.lock().unwrap().push(n)).unwrap();
    steps.into_inner().unwrap()
}

#[test]
fn progress_counts_every_configuration_once() {
    let configs = sweep().configurations().unwrap();
    let steps = progress_of(&source(), &configs, 1);
    let whole = configs.len() as u64 * sweep::CONFIGURATION_STEPS;
    assert_eq!(steps.iter().sum::<u64>(), whole);
}

/// Configurations that share a reading advance together as it goes on,
/// rather than all at once at its end; a binary trace read in place by
/// each configuration counts each as it ends.
#[test]
fn progress_of_a_shared_reading_moves_as_it_reads() {
    let long: GenSpec = "zipf:pages=400,alpha=0.9,n=60000,seed=5".parse().unwrap();
    let mut s = sweep();
    s.archs.truncate(1);
    s.models = vec![Model::Replacement];
    let configs = s.configurations().unwrap();
    assert_eq!(configs.len(), 6);
    let whole = configs.len() as u64 * sweep::CONFIGURATION_STEPS;
    let steps = progress_of(&Source::Generator(long.clone()), &configs, configs.len());
    assert_eq!(steps.iter().sum::<u64>(), whole);
    // Seven hand-overs of 8192 accesses: the first told before the end.
    assert!(steps.len() > 5, "{steps:?}");
    assert!(steps[0] < whole / 5, "{steps:?}");
    let dir = std::env::temp_dir().join(format!("vmlab-progress-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let in_place = binary_trace(long.stream(), dir.join("t.vmt"));
    let steps = progress_of(&in_place, &configs, configs.len());
    assert_eq!(steps, vec![sweep::CONFIGURATION_STEPS; configs.len()]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn memory_in_bytes_becomes_frames_of_each_page_size() {
    let mut s = sweep();
    s.memory = vec![Memory::Bytes(64 * 1024)];
    let configs = s.configurations().unwrap();
    let frames = |arch: &str| {
        configs
            .iter()
            .find(|c| c.machine.arch.name() == arch)
            .unwrap()
            .machine
            .frames
    };
    assert_eq!(frames("x86-64"), 16);
    assert_eq!(frames("aarch64-16k"), 4);
    s.memory = vec![Memory::Bytes(8192)];
    let e = s.configurations().unwrap_err();
    assert_eq!(e.place, "memory");
    assert!(e.message.contains("aarch64-16k"), "{e}");
}

#[test]
fn bad_dimensions_are_refused_by_name() {
    let mut s = sweep();
    s.policies.push("belady-ish".into());
    assert_eq!(s.configurations().unwrap_err().place, "policies");
    let mut s = sweep();
    s.tlbs = vec![Some("l1d:banana".into())];
    assert_eq!(s.configurations().unwrap_err().place, "tlb");
    let mut s = sweep();
    s.archs.clear();
    assert_eq!(s.configurations().unwrap_err().place, "arch");
}

#[test]
fn exact_miss_ratio_rows_equal_lru_simulated_at_each_size() {
    let archs = vec![presets::by_name("x86-64").unwrap().unwrap()];
    let memory: Vec<Memory> = [1, 10, 40, 120, 400, 1000]
        .into_iter()
        .map(Memory::Frames)
        .collect();
    let methods = [MrcMethod::Exact, MrcMethod::ShardsRate(0.5)];
    let out = sweep::mrc_rows(&source(), &archs, &memory, &methods).unwrap();
    assert_eq!(out.rows.len(), 12);
    let s = Sweep {
        archs,
        tlbs: vec![None],
        models: vec![Model::Replacement],
        policies: vec!["lru".into()],
        memory,
    };
    let simulated = sweep::run(&source(), &s.configurations().unwrap(), 1, &|_| {}).unwrap();
    for (mrc, sim) in out.rows.iter().zip(&simulated) {
        assert_eq!(mrc.model, "mrc-exact");
        assert_eq!(mrc.frames, sim.frames);
        assert_eq!(mrc.references, sim.references);
        assert_eq!(mrc.faults, sim.faults, "{} frames", sim.frames);
        assert_eq!(mrc.evictions, sim.evictions, "{} frames", sim.frames);
        assert_eq!(mrc.distinct_pages, sim.distinct_pages);
    }
    let shards = &out.rows[6..];
    assert!(shards.iter().all(|r| r.model == "shards-rate=0.5"));
    assert_eq!(out.errors.len(), 1);
    let mae = out.errors[0].mean_absolute_error;
    assert!(mae > 0.0 && mae < 0.1, "{mae}");
    // Schemes of one page size get the same curves from one pass, in the
    // order given, each under its own name; another page size its own.
    let names = ["riscv-sv39", "aarch64-16k", "x86-64"];
    let archs: Vec<_> = names
        .iter()
        .map(|n| presets::by_name(n).unwrap().unwrap())
        .collect();
    let many = sweep::mrc_rows(&source(), &archs, &memory_of(&[40, 400]), &methods).unwrap();
    let of = |name: &str| -> Vec<_> { many.rows.iter().filter(|r| r.arch == name).collect() };
    assert_eq!(many.rows.len(), 3 * 4);
    assert!(many.rows[..4].iter().all(|r| r.arch == "riscv-sv39"));
    assert!(many.rows[8..].iter().all(|r| r.arch == "x86-64"));
    for (a, b) in of("riscv-sv39").into_iter().zip(of("x86-64")) {
        assert_eq!(
            (a.faults, a.fault_rate, &a.model),
            (b.faults, b.fault_rate, &b.model)
        );
    }
    assert_ne!(of("aarch64-16k")[0].faults, of("x86-64")[0].faults);
    let errors: Vec<&str> = many.errors.iter().map(|e| e.arch.as_str()).collect();
    assert_eq!(errors, names);
}

fn memory_of(frames: &[u64]) -> Vec<Memory> {
    frames.iter().copied().map(Memory::Frames).collect()
}

#[test]
fn mrc_methods_parse_and_bad_ones_say_what_was_expected() {
    assert_eq!("exact".parse(), Ok(MrcMethod::Exact));
    assert_eq!("shards:rate=0.01".parse(), Ok(MrcMethod::ShardsRate(0.01)));
    assert_eq!("shards:size=8192".parse(), Ok(MrcMethod::ShardsSize(8192)));
    for bad in ["shards", "shards:rate=2", "shards:size=0", "lru"] {
        let e = bad.parse::<MrcMethod>().unwrap_err();
        assert!(e.contains("expected") || e.contains(bad), "{bad}: {e}");
    }
}

/// A trace that costs as much to read as to run (lackey text, and the
/// same compressed) is read once for several configurations at a time:
/// each row is still its configuration's run alone, whatever how many
/// share a reading, over two page sizes, both models and a skipped line;
/// the progress callback counts every configuration once.
#[test]
fn configurations_sharing_a_reading_of_a_text_trace_give_their_own_rows() {
    let dir = std::env::temp_dir().join(format!("vmlab-shared-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let gen: GenSpec = SPEC.parse().unwrap();
    let mut text = String::from("==7== Lackey\n L zz,8\n");
    for r in gen.stream() {
        let kind = if r.kind == vmlab_hw::AccessKind::Write {
            'S'
        } else {
            'L'
        };
        text.push_str(&format!(" {kind} {:x},{}\n", r.addr, r.size));
    }
    let plain = dir.join("t.lackey");
    std::fs::write(&plain, &text).unwrap();
    let packed = dir.join("t.lackey.zst");
    std::fs::write(&packed, zstd::encode_all(text.as_bytes(), 3).unwrap()).unwrap();
    let mut s = sweep();
    s.tlbs.truncate(1);
    let configs = s.configurations().unwrap();
    for path in [plain, packed] {
        let trace = Source::Trace {
            path,
            format: None,
            skip_bad_lines: true,
        };
        // All of a page size at once, as memory allows.
        assert_eq!(sweep::wanted_at_once(&trace, &configs), configs.len() / 2);
        let alone: Vec<String> = configs
            .iter()
            .map(|c| {
                format!(
                    "{:?}",
                    sweep::Row::new(c, &trace.run(&c.machine, c.model).unwrap())
                )
            })
            .collect();
        for at_once in [1, 2, 5, configs.len()] {
            let done = std::sync::atomic::AtomicU64::new(0);
            let rows = sweep::run(&trace, &configs, at_once, &|steps| {
                done.fetch_add(steps, std::sync::atomic::Ordering::Relaxed);
            })
            .unwrap();
            let whole = configs.len() as u64 * sweep::CONFIGURATION_STEPS;
            assert_eq!(done.into_inner(), whole);
            let rows: Vec<String> = rows.iter().map(|r| format!("{r:?}")).collect();
            assert_eq!(rows, alone, "{at_once} at once");
        }
        assert!(alone.iter().all(|r| r.contains("skipped_lines: 1")));
    }
    // A generator shares its readings too; a binary file read in place is
    // read by each configuration, rayon's pool size at a time.
    assert_eq!(
        sweep::wanted_at_once(&source(), &configs),
        configs.len() / 2
    );
    let in_place = binary_trace(gen.stream(), dir.join("t.vmt"));
    assert_eq!(
        sweep::wanted_at_once(&in_place, &configs),
        sweep::parallelism()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_malformed_trace_names_its_line_and_the_configuration() {
    let dir = std::env::temp_dir().join(format!("vmlab-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join("bad.lackey");
    std::fs::write(&path, " L 00001000,8\n S 00002000,8\n L zzzz,8\n").unwrap();
    let trace = Source::Trace {
        path: path.clone(),
        format: Some("lackey".parse().unwrap()),
        skip_bad_lines: false,
    };
    let mut s = sweep();
    s.archs.truncate(1);
    let configs = s.configurations().unwrap();
    let e = sweep::run(&trace, &configs, 2, &|_| {}).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("bad.lackey:3"), "{text}");
    assert!(
        text.starts_with("configuration arch=x86-64 tlb=default model=full policy=lru frames=40")
    );
    // Skipping counts the line in every row instead.
    let skipping = Source::Trace {
        path,
        format: Some("lackey".parse().unwrap()),
        skip_bad_lines: true,
    };
    let rows = sweep::run(&skipping, &configs, 2, &|_| {}).unwrap();
    assert!(rows
        .iter()
        .all(|r| r.skipped_lines == 1 && r.references == 2));
    std::fs::remove_dir_all(dir).unwrap();
}

/// An address a run cannot map names the line of a text trace that made
/// the access (counting a modify line's two accesses, blank and skipped
/// lines, compressed or not), on both engines of the full model and in an
/// explanation; a binary trace names its record.
#[test]
fn an_address_error_in_a_text_trace_names_its_line() {
    let dir = std::env::temp_dir().join(format!("vmlab-placed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let far = "ffffffffffff0000";
    let lackey = format!("I  0401ab70,3\n M 1fff000758,8\n\n L zz,8\n S {far},8\n L 10,4\n");
    let addr = format!("0x1000\n# a comment\n0x2000 W\n0x{far}\n");
    let files = [
        ("t.lackey", lackey.clone().into_bytes(), 5, true),
        // A system call line counts as a record too (and keeps the run on
        // the layered engine).
        (
            "calls.lackey",
            format!(
                "SYSCALL[1,1](12) sys_brk ( 0x0 ) --> [pre-success] Success(0x4035000)\n{lackey}"
            )
            .into_bytes(),
            6,
            true,
        ),
        (
            "t.lackey.zst",
            zstd::encode_all(lackey.as_bytes(), 3).unwrap(),
            5,
            true,
        ),
        ("t.addr", addr.into_bytes(), 4, false),
    ];
    let machine = vmlab_workload::driver::Machine {
        arch: presets::by_name("x86-64").unwrap().unwrap(),
        frames: 64,
        policy: "lru".into(),
        tlb: None,
        future: None,
    };
    for (name, bytes, line, lackey) in files {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let trace = Source::Trace {
            path: path.clone(),
            format: Some(if lackey { "lackey" } else { "addr" }.parse().unwrap()),
            skip_bad_lines: true,
        };
        let want = format!(
            "{}:{line}: address 0x{far}: cannot be mapped",
            path.display()
        );
        let e = trace.run(&machine, Model::Full).unwrap_err().to_string();
        assert!(e.starts_with(&want), "{name}: {e}");
        let log = vmlab_kernel::explain::ExplainLog::window(0, 100);
        let e = trace.explain(&machine, log).unwrap_err().to_string();
        assert!(e.starts_with(&want), "{name}, explained: {e}");
    }
    let refs = [
        MemRef::read(0x1000, 8),
        MemRef::read(0xffff_ffff_ffff_0000, 8),
    ];
    let path = dir.join("t.vmt");
    let trace = binary_trace(refs, path.clone());
    // A binary trace has no lines: the file and the record are named.
    let e = trace.run(&machine, Model::Full).unwrap_err().to_string();
    let want = format!("{}: record 2: address ", path.display());
    assert!(e.starts_with(&want), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_generator_knows_its_length_and_a_trace_does_not() {
    let gen = Source::Generator("loop:pages=10,n=12345".parse::<GenSpec>().unwrap());
    assert_eq!(gen.references(), Some(12345));
    assert_eq!(
        gen.references(),
        Some(
            gen.run(&machine_for_length(), Model::Replacement)
                .unwrap()
                .references
        )
    );
    let trace = Source::Trace {
        path: PathBuf::from("any.trace"),
        format: None,
        skip_bad_lines: false,
    };
    assert_eq!(trace.references(), None);
}

fn machine_for_length() -> vmlab_workload::driver::Machine {
    vmlab_workload::driver::Machine {
        arch: presets::by_name("x86-64").unwrap().unwrap(),
        frames: 4,
        policy: "lru".to_string(),
        tlb: None,
        future: None,
    }
}

/// A lackey trace long enough for several of the reader thread's
/// hand-overs, with an address-space call, a malformed line and page
/// crossings.
fn long_lackey() -> String {
    let mut text = String::from("==1== Lackey\n");
    for i in 0..30_000u64 {
        text.push_str(&format!("I  {:08x},3\n", 0x0040_0000 + (i * 7) % 20_000));
        match i % 4 {
            0 => text.push_str(&format!(
                " L {:08x},8\n",
                0x0600_0000 + (i * 4093) % 400_000
            )),
            1 => text.push_str(&format!(" S {:08x},4\n", 0x0600_0ffe + (i % 64) * 4096)),
            2 => text.push_str(&format!(" M {:08x},8\n", 0x0610_0000 + i * 64)),
            _ => {}
        }
        if i == 12_345 {
            text.push_str("SYSCALL[7,1](9) sys_mmap ( 0x0, 8192, 3, 34, 4294967295, 0 ) --> [pre-success] Success(0x4835000)\n");
        }
        if i == 20_000 {
            text.push_str(" L nothex,8\n");
        }
    }
    text
}

/// The long lackey trace's accesses and address-space call as vmlab-bin,
/// compressed with zstd, and its accesses as oracleGeneral records (one
/// object a page).
fn long_binaries(lackey: &Path) -> (Vec<u8>, Vec<u8>) {
    let opts = vmlab_workload::trace::ReadOptions {
        skip_bad_lines: true,
        ..Default::default()
    };
    let mut reader = vmlab_workload::trace::open(lackey, None, opts).unwrap();
    let mut bin = vmlab_workload::trace::bin::BinWriter::new(Vec::new()).unwrap();
    let mut oracle = Vec::new();
    for (i, op) in reader.ops().enumerate() {
        let op = op.unwrap();
        bin.write_op(&op).unwrap();
        if let vmlab_workload::op::Op::Access(r) = op {
            oracle.extend_from_slice(&(i as u32).to_le_bytes());
            oracle.extend_from_slice(&(r.addr >> 12).to_le_bytes());
            oracle.extend_from_slice(&4096u32.to_le_bytes());
            oracle.extend_from_slice(&(-1i64).to_le_bytes());
        }
    }
    let bin = zstd::encode_all(&bin.finish().unwrap()[..], 3).unwrap();
    (bin, oracle)
}

/// Every trace format, compressed or not, and a generator run the same
/// read on a thread of their own (what `vmlab run` does) as read in line:
/// the same report, the same skipped lines, the same error at the same
/// place.
#[test]
fn a_stream_read_on_a_thread_runs_as_read_in_line() {
    let dir = std::env::temp_dir().join(format!("vmlab-thread-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lackey: PathBuf = dir.join("long.lackey");
    std::fs::write(&lackey, long_lackey()).unwrap();
    let (bin, oracle) = long_binaries(&lackey);
    let bin_path = dir.join("long.vmt.zst");
    std::fs::write(&bin_path, bin).unwrap();
    let oracle_path = dir.join("long.oracleGeneral");
    std::fs::write(&oracle_path, oracle).unwrap();
    let trace = |path: &Path, format: Option<&str>, skip_bad_lines| Source::Trace {
        path: path.to_path_buf(),
        format: format.map(|f| f.parse().unwrap()),
        skip_bad_lines,
    };
    let run = |source: &Source, machine, model, reading| {
        let watch = sweep::Watch {
            every: 0,
            on_sample: &mut |_| {},
            on_read: &|_| {},
        };
        source.run_sampled(machine, model, watch, reading)
    };
    let mut machine = machine_for_length();
    machine.frames = 64;
    let sources = [
        trace(&lackey, None, true),
        trace(&bin_path, None, false),
        trace(&oracle_path, Some("oracle-general"), false),
        Source::Generator(
            "zipf:pages=300,alpha=0.8,n=20000,write=0.2,seed=3"
                .parse()
                .unwrap(),
        ),
    ];
    for model in [Model::Full, Model::Replacement] {
        for source in &sources {
            let report = |reading| {
                let mut r = run(source, &machine, model, reading).unwrap();
                r.seconds = 0.0;
                serde_json::to_string(&r).unwrap()
            };
            let in_line = report(Reading::InLine);
            assert_eq!(report(Reading::OnThread), in_line, "{model:?} {source:?}");
            assert!(in_line.contains("\"references\":"), "{in_line}");
        }
        let skipped = run(&sources[0], &machine, model, Reading::OnThread);
        assert_eq!(skipped.unwrap().skipped_lines, 1);
        // Without skipping, the same error at the same place.
        let error = |reading| {
            run(&trace(&lackey, None, false), &machine, model, reading)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(error(Reading::OnThread), error(Reading::InLine));
        let error = error(Reading::OnThread);
        assert!(error.contains("long.lackey:"), "{error}");
    }
    // Miss-ratio curves: on two threads, one scheme's pass reads on a
    // thread of its own, two schemes' passes read in line; the first
    // scheme's rows are the same either way.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let x86 = presets::by_name("x86-64").unwrap().unwrap();
    let arm = presets::by_name("aarch64-16k").unwrap().unwrap();
    let memory = [Memory::Frames(8), Memory::Frames(64)];
    let methods = [MrcMethod::Exact, MrcMethod::ShardsRate(0.5)];
    for source in &sources {
        let rows = |archs: &[vmlab_hw::Arch]| {
            pool.install(|| sweep::mrc_rows(source, archs, &memory, &methods))
                .unwrap()
                .rows
        };
        let alone = rows(std::slice::from_ref(&x86));
        let both = rows(&[x86.clone(), arm.clone()]);
        assert_eq!(format!("{alone:?}"), format!("{:?}", &both[..alone.len()]));
    }
    std::fs::remove_dir_all(dir).unwrap();
}
