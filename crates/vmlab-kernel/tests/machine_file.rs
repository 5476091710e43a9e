//! Machine files: every key reaches the configuration, each kind of error
//! names its line and column, flags override the file, and the complete
//! example of `docs/machine-file.md` parses.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use vmlab_hw::arch::presets;
use vmlab_hw::tlb::TlbConfig;
use vmlab_kernel::kernel::ConfigError;
use vmlab_kernel::machine::{
    parse_machine_toml, ArchSource, Given, MachineError, MachineSpec, Memory, Place,
};
use vmlab_kernel::{Kernel, Personality, ReplacementScope};

fn parse(text: &str) -> Result<MachineSpec, MachineError> {
    parse_machine_toml(text, "m.toml", Path::new("dir"))
}

/// The error `text` gives, parsing or building its configuration.
fn error(text: &str) -> String {
    match parse(text).and_then(|spec| spec.config()) {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(e) => e.to_string(),
    }
}

/// Every key, each set to something other than its default.
const EVERY_KEY: &str = r#"arch = "riscv-sv39"
frames = 5000
policy = "clock"
scope = "local"
tlb = "l1d:16:4,l1i:16:4"
swap = "8MiB"
personality = "pintos"
read-ahead = 4
huge-pages = 2
"#;

#[test]
fn every_key_reaches_the_configuration() {
    let config = parse(EVERY_KEY).unwrap().config().unwrap();
    assert_eq!(
        config.arch,
        presets::by_name("riscv-sv39").unwrap().unwrap()
    );
    assert_eq!(config.frames, 5000);
    assert_eq!(config.policy, "clock");
    assert_eq!(config.scope, ReplacementScope::Local);
    assert_eq!(
        config.tlb,
        TlbConfig::parse_spec("l1d:16:4,l1i:16:4", 12).unwrap()
    );
    assert_eq!(config.swap_slots, 2048);
    assert_eq!(config.personality, Personality::Pintos);
    assert_eq!(config.read_ahead_pages, 4);
    assert_eq!(config.huge_pages, 2);
}

#[test]
fn mem_is_rounded_down_to_frames_of_the_schemes_page() {
    let config = parse("arch = \"aarch64-16k\"\nmem = 100000\n")
        .unwrap()
        .config()
        .unwrap();
    assert_eq!(config.frames, 6);
    let config = parse("mem = \"8MiB\"\n").unwrap().config().unwrap();
    assert_eq!(config.frames, 2048);
}

#[test]
fn arch_file_is_relative_to_the_machine_file() {
    let spec = parse("arch-file = \"tiny.toml\"\n").unwrap();
    assert_eq!(
        spec.arch.unwrap().value,
        ArchSource::File(Path::new("dir").join("tiny.toml"))
    );
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let spec = parse_machine_toml(
        "arch-file = \"arch/tiny24.toml\"\nframes = 64\n",
        "m.toml",
        &examples,
    )
    .unwrap();
    assert_eq!(spec.config().unwrap().arch.page_bytes(), 64);
}

#[test]
fn an_empty_file_is_the_default_machine() {
    let config = parse("# nothing\n").unwrap().config().unwrap();
    assert_eq!(config.arch.name(), "x86-64");
    assert_eq!(config.frames, 1024);
    assert_eq!(config.policy, "lru");
    assert_eq!(config.huge_pages, 0);
}

#[test]
fn unknown_key_points_at_the_key() {
    assert_eq!(
        error("policy = \"lru\"\n  swapp = 0\n"),
        "m.toml:2:3: key `swapp`: unknown key; expected one of arch, arch-file, frames, mem, policy, scope, tlb, swap, personality, read-ahead, huge-pages"
    );
}

#[test]
fn tables_are_refused_at_their_key() {
    assert_eq!(
        error("[kernel]\npolicy = \"lru\"\n"),
        "m.toml:1:2: key `kernel`: unknown key; expected one of arch, arch-file, frames, mem, policy, scope, tlb, swap, personality, read-ahead, huge-pages"
    );
    assert_eq!(
        error("frames = 10\n[tlb]\n"),
        "m.toml:2:2: key `tlb`: expected a value; a machine file has no tables"
    );
}

#[test]
fn wrong_types_point_at_the_value() {
    assert_eq!(
        error("mem = true\n"),
        "m.toml:1:7: key `mem`: expected a size (bytes, or a string such as \"64MiB\"), found the boolean true"
    );
    assert_eq!(
        error("frames = \"4096\"\n"),
        "m.toml:1:10: key `frames`: expected an integer, found the string \"4096\""
    );
    assert_eq!(
        error("policy = 3\n"),
        "m.toml:1:10: key `policy`: expected a string, found the integer 3"
    );
    assert_eq!(
        error("huge-pages = [1]\n"),
        "m.toml:1:14: key `huge-pages`: expected an integer, found an array"
    );
}

#[test]
fn impossible_values_point_at_the_value() {
    assert_eq!(
        error("read-ahead = -1\n"),
        "m.toml:1:14: key `read-ahead`: expected a count of 0 or more, found -1"
    );
    assert_eq!(
        error("policy = \"aging:bits=99\"\n"),
        "m.toml:1:10: key `policy`: aging needs a counter of 1 to 64 bits, not 99"
    );
    assert_eq!(
        error("policy = \"lru:tick=5\"\n"),
        "m.toml:1:10: key `policy`: lru:tick=5: lru takes no parameters, found \"tick\""
    );
    assert_eq!(
        error("scope = \"per-process\"\n"),
        "m.toml:1:9: key `scope`: expected \"global\" or \"local\", found \"per-process\""
    );
    assert_eq!(
        error("personality = \"bsd\"\n"),
        "m.toml:1:15: key `personality`: expected \"linux\", \"pintos\" or \"xv6\", found \"bsd\""
    );
    assert_eq!(
        error("mem = \"lots\"\n"),
        "m.toml:1:7: key `mem`: expected a size such as 4096, 64K or 1GiB, found \"lots\""
    );
    assert_eq!(
        error("frames = 0\n"),
        "m.toml:1:10: key `frames`: expected at least one frame of 4096 bytes"
    );
    assert_eq!(
        error("arch = \"vax\"\n").split(';').next().unwrap(),
        "m.toml:1:8: key `arch`: unknown scheme \"vax\""
    );
    assert!(error("policy = \"lur\"\n").starts_with(
        "m.toml:1:10: key `policy`: unknown replacement policy \"lur\"; expected one of fifo, lru"
    ));
    assert_eq!(
        error("swap = 100\n"),
        "m.toml:1:8: key `swap`: 100 bytes is less than one page of 4096 bytes (0 for no swap)"
    );
    assert!(error("\ntlb = \"l1d:64:4@2K\"\n").starts_with("m.toml:2:7: key `tlb`: "));
}

#[test]
fn one_setting_given_twice_points_at_the_second() {
    assert_eq!(
        error("frames = 10\nmem = \"1M\"\n"),
        "m.toml:2:7: key `mem`: the same setting as `frames` above; give one of them"
    );
    assert_eq!(
        error("arch-file = \"a.toml\"\narch = \"x86-64\"\n"),
        "m.toml:2:8: key `arch`: the same setting as `arch-file` above; give one of them"
    );
}

#[test]
fn syntax_errors_give_line_and_column() {
    let e = error("frames = 10\npolicy = = \"lru\"\n");
    assert!(e.starts_with("m.toml:2:10: "), "{e}");
    let e = error("frames = 10\nframes = 11\n");
    assert!(e.starts_with("m.toml:2:1: "), "{e}");
    // A number too large for TOML named neither its key nor the limit.
    assert_eq!(
        error("frames = 18446744073709551615\n"),
        "m.toml:1:10: key `frames`: number too large to fit in target type \
         (a TOML integer is at most 9223372036854775807)"
    );
    let e = error("\nread-ahead = 99999999999999999999\n");
    assert!(e.starts_with("m.toml:2:14: key `read-ahead`: "), "{e}");
}

#[test]
fn a_missing_file_says_it_cannot_be_read() {
    let e = vmlab_kernel::machine::load_machine_file(Path::new("no/such/machine.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("no/such/machine.toml: cannot read: "), "{e}");
}

#[test]
fn flags_override_the_file_setting_by_setting() {
    let file = parse("mem = \"8MiB\"\npolicy = \"clock\"\nswap = 0\n").unwrap();
    let flags = MachineSpec {
        memory: Some(Given::flag(Memory::Frames(100), "--frames")),
        personality: Some(Given::flag(Personality::Xv6, "--personality")),
        ..MachineSpec::default()
    };
    let config = flags.over(file).config().unwrap();
    // The flag wins where both give the setting (`--frames` over `mem`) ...
    assert_eq!(config.frames, 100);
    assert_eq!(config.personality, Personality::Xv6);
    // ... and the file's keys fill in the rest.
    assert_eq!(config.policy, "clock");
    assert_eq!(config.swap_slots, 0);
}

#[test]
fn an_overriding_flag_is_named_in_its_errors() {
    let file = parse("frames = 100\n").unwrap();
    let flags = MachineSpec {
        memory: Some(Given::flag(Memory::Bytes(10), "--mem")),
        ..MachineSpec::default()
    };
    assert_eq!(
        flags.over(file).config().unwrap_err().to_string(),
        "--mem: expected at least one frame of 4096 bytes"
    );
}

#[test]
fn kernel_refusals_are_placed_at_the_setting_they_name() {
    let spec = parse("\n\nframes = 3\n").unwrap();
    let config = spec.config().unwrap();
    let Err(e) = Kernel::new(config) else {
        panic!("3 frames cannot boot x86-64")
    };
    let located = spec.locate(&e);
    assert_eq!(
        located.place,
        Some(Place::File {
            file: "m.toml".into(),
            line: 3,
            column: 10,
            key: "frames".into()
        })
    );
    assert!(
        located.message.starts_with("3 frames cannot hold"),
        "{located}"
    );
    // A refusal of a setting nobody gave keeps the kernel's own words.
    let e = ConfigError("frames: too few".into());
    assert_eq!(
        MachineSpec::default().locate(&e).to_string(),
        "frames: too few"
    );
}

#[test]
fn the_documented_example_parses_and_boots() {
    let doc = include_str!("../../../docs/machine-file.md");
    let start = doc.find("```toml\n").unwrap() + "```toml\n".len();
    let example = &doc[start..];
    let example = &example[..example.find("```").unwrap()];
    let spec = parse(example).unwrap();
    let config = spec.config().unwrap();
    assert_eq!(config.frames, 16384);
    assert_eq!(config.huge_pages, 8);
    assert_eq!(config.swap_slots, 32768);
    assert_eq!(config.read_ahead_pages, 8);
    Kernel::new(config).unwrap();
}

/// A policy's parameters travel in its name and reach the kernel's.
#[test]
fn policy_parameters_reach_the_kernel() {
    let config = parse("policy = \"aging:bits=4:tick=50\"\n")
        .unwrap()
        .config()
        .unwrap();
    assert_eq!(config.policy, "aging:bits=4:tick=50");
    let k = Kernel::new(config).unwrap();
    let params = &k.config().policy_params;
    assert_eq!((params.aging_bits, params.tick_interval), (4, 50));
}
