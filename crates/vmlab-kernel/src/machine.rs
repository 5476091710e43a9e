//! Machine files: a whole machine (translation scheme, memory, TLB,
//! replacement policy and its scope, swap, kernel personality, read-ahead, huge-page
//! pool) written once in TOML and reused, with the command line's flags
//! laid over it.
//!
//! ```toml
//! arch = "x86-64"
//! mem = "64MiB"
//! policy = "clock"
//! huge-pages = 8
//! ```
//!
//! Every key is a `vmlab run` flag without its dashes; `docs/machine-file.md`
//! documents them all. A [`MachineSpec`] holds the settings that were given,
//! each with where it was given ([`Place`]: a flag, or a file's line and
//! column), so that an impossible value found only when the settings meet
//! (a TLB spec on the chosen scheme's pages, a pool larger than memory)
//! still names the flag or the file position it came from.
//!
//! Why here, in the kernel crate: a machine file describes a
//! [`KernelConfig`], the kernel and the hardware under it, and nothing of
//! a workload. Parsing it next to the type it builds keeps every front end
//! (the command line, the scenario library, a fuzz target) on one parser,
//! as the scheme files of `vmlab-hw` live next to [`Arch`].

use crate::kernel::{ConfigError, KernelConfig, ReplacementScope};
use crate::process::Personality;
use crate::units::parse_size;
use std::fmt;
use std::path::{Path, PathBuf};
use toml_edit::{ImDocument, Item, Value};
use vmlab_hw::arch::file::{line_column, load_arch_file};
use vmlab_hw::arch::presets;
use vmlab_hw::tlb::TlbConfig;
use vmlab_hw::Arch;

/// The keys of a machine file, in the order the documentation lists them.
pub const KEYS: &[&str] = &[
    "arch",
    "arch-file",
    "frames",
    "mem",
    "policy",
    "scope",
    "tlb",
    "swap",
    "personality",
    "read-ahead",
    "huge-pages",
];

/// Frames of a machine whose memory is not given (4 MiB of 4 KiB pages).
pub const DEFAULT_FRAMES: usize = 1024;

/// Where a setting was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// A command-line flag (`--mem`).
    Flag(String),
    /// A key of a machine file, at the value's 1-based line and column.
    File {
        /// The file as named to the parser.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// The key.
        key: String,
    },
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Flag(flag) => f.write_str(flag),
            Place::File {
                file,
                line,
                column,
                key,
            } => write!(f, "{file}:{line}:{column}: key `{key}`"),
        }
    }
}

/// A setting's value and where it was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Given<T> {
    /// The value.
    pub value: T,
    /// Where it came from.
    pub place: Place,
}

impl<T> Given<T> {
    /// `value`, given by the command-line flag `flag`.
    pub fn flag(value: T, flag: &str) -> Given<T> {
        Given {
            value,
            place: Place::Flag(flag.to_string()),
        }
    }

    fn error(&self, message: impl fmt::Display) -> MachineError {
        MachineError {
            place: Some(self.place.clone()),
            message: message.to_string(),
        }
    }
}

/// Which translation scheme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArchSource {
    /// A preset or `linear:...` name (`vmlab arch list`).
    Named(String),
    /// A scheme file (`vmlab-hw`'s TOML form of a scheme).
    File(PathBuf),
}

/// How much physical memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Memory {
    /// A number of base-page frames.
    Frames(u64),
    /// Bytes, rounded down to whole frames of the scheme's base page.
    Bytes(u64),
}

/// The settings of a machine that were given; what is absent takes
/// [`KernelConfig::new`]'s default (x86-64, [`DEFAULT_FRAMES`], LRU, as
/// much swap as memory, Linux rules, no read-ahead, no huge pages).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MachineSpec {
    /// `arch` or `arch-file`.
    pub arch: Option<Given<ArchSource>>,
    /// `frames` or `mem`.
    pub memory: Option<Given<Memory>>,
    /// `policy`: a replacement policy name.
    pub policy: Option<Given<String>>,
    /// `scope`: one policy over every process's pages, or one per process.
    pub scope: Option<Given<ReplacementScope>>,
    /// `tlb`: a TLB spec (`vmlab run --help`) or `none`.
    pub tlb: Option<Given<String>>,
    /// `swap`: bytes of swap space, 0 for none.
    pub swap: Option<Given<u64>>,
    /// `personality`.
    pub personality: Option<Given<Personality>>,
    /// `read-ahead`: pages read ahead on a file fault.
    pub read_ahead: Option<Given<u64>>,
    /// `huge-pages`: frames of the huge-page pool reserved at boot.
    pub huge_pages: Option<Given<u64>>,
}

/// A machine setting that cannot be used, naming where it was given and
/// what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineError {
    /// Where; `None` for a file that cannot be read, or a default at fault.
    pub place: Option<Place>,
    /// What is wrong, or what was expected.
    pub message: String,
}

impl fmt::Display for MachineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.place {
            Some(place) => write!(f, "{place}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for MachineError {}

impl MachineSpec {
    /// These settings laid over `lower`: each setting given here wins, the
    /// rest come from `lower` (flags over a machine file).
    pub fn over(self, lower: MachineSpec) -> MachineSpec {
        MachineSpec {
            arch: self.arch.or(lower.arch),
            memory: self.memory.or(lower.memory),
            policy: self.policy.or(lower.policy),
            scope: self.scope.or(lower.scope),
            tlb: self.tlb.or(lower.tlb),
            swap: self.swap.or(lower.swap),
            personality: self.personality.or(lower.personality),
            read_ahead: self.read_ahead.or(lower.read_ahead),
            huge_pages: self.huge_pages.or(lower.huge_pages),
        }
    }

    /// The translation scheme (x86-64 when none was given).
    pub fn resolve_arch(&self) -> Result<Arch, MachineError> {
        let Some(given) = &self.arch else {
            return presets::by_name("x86-64")
                .and_then(Result::ok)
                .ok_or_else(|| MachineError {
                    place: None,
                    message: "the x86-64 preset is missing".into(),
                });
        };
        match &given.value {
            ArchSource::File(path) => load_arch_file(path).map_err(|e| given.error(e)),
            ArchSource::Named(name) => match presets::by_name(name) {
                Some(Ok(arch)) => Ok(arch),
                Some(Err(e)) => Err(given.error(e)),
                None => Err(given.error(format!(
                    "unknown scheme {name:?}; expected one of {} or linear:va=BITS,page=BYTES,pa=BITS",
                    presets::NAMES.join(", ")
                ))),
            },
        }
    }

    /// The machine these settings describe. Values that only make sense
    /// together (a TLB spec on the scheme's page sizes, swap in whole
    /// pages, a huge-page pool on a scheme with huge pages) are checked
    /// here; [`MachineSpec::locate`] places what [`crate::Kernel::new`]
    /// refuses later.
    pub fn config(&self) -> Result<KernelConfig, MachineError> {
        let arch = self.resolve_arch()?;
        let page = arch.page_bytes();
        let frames = match &self.memory {
            None => DEFAULT_FRAMES,
            Some(given) => {
                let n = match given.value {
                    Memory::Frames(n) => n,
                    Memory::Bytes(bytes) => bytes / page,
                };
                if n == 0 {
                    return Err(given.error(format!("expected at least one frame of {page} bytes")));
                }
                usize::try_from(n).map_err(|_| given.error("more frames than vmlab keeps"))?
            }
        };
        let mut config = KernelConfig::new(arch, frames);
        if let Some(given) = &self.policy {
            // Checked whole (name, keys and their ranges) by building it
            // small, so the error names the flag or the file's place; OPT
            // is given its future later, so here an empty one.
            let params = crate::policy::PolicyParams {
                next_use: Some(Default::default()),
                ..config.policy_params.clone()
            };
            crate::policy::spec::from_spec(&given.value, 1, &params)
                .map_err(|e| given.error(e.0))?;
            config.policy = given.value.clone();
        }
        if let Some(given) = &self.tlb {
            config.tlb = TlbConfig::parse_spec(&given.value, config.arch.page_shift())
                .map_err(|e| given.error(e))?;
            config
                .tlb
                .check_page_sizes(&config.arch)
                .map_err(|e| given.error(e))?;
        }
        self.set_the_rest(&mut config)?;
        Ok(config)
    }

    /// Sets on `config` (whose scheme and frames are chosen) what these
    /// settings give beyond the scheme, memory, policy and TLB: swap (in
    /// the scheme's pages), scope, personality, read-ahead and the
    /// huge-page pool. What a sweep of a script takes from a machine file
    /// while it varies the other four.
    pub fn set_the_rest(&self, config: &mut KernelConfig) -> Result<(), MachineError> {
        let page = config.arch.page_bytes();
        if let Some(given) = &self.swap {
            let bytes = given.value;
            if bytes != 0 && bytes < page {
                return Err(given.error(format!(
                    "{bytes} bytes is less than one page of {page} bytes (0 for no swap)"
                )));
            }
            config.swap_slots = u32::try_from(bytes / page)
                .map_err(|_| given.error("more swap slots than vmlab keeps"))?;
        }
        if let Some(given) = &self.scope {
            config.scope = given.value;
        }
        if let Some(given) = &self.personality {
            config.personality = given.value;
        }
        if let Some(given) = &self.read_ahead {
            config.read_ahead_pages = given.value;
        }
        if let Some(given) = &self.huge_pages {
            config.huge_pages =
                usize::try_from(given.value).map_err(|_| given.error("too many huge pages"))?;
            // Checked here as well as at boot: a trace run boots no kernel
            // with the pool, and the file's key is still checked there.
            crate::hugetlb::reservation(&config.arch, config.frames, config.huge_pages)
                .map_err(|e| self.locate(&e))?;
        }
        Ok(())
    }

    /// The error [`crate::Kernel::new`] gave for a configuration built by
    /// [`MachineSpec::config`], placed at the setting it names (its message
    /// starts with the setting's key, `frames: ...`).
    pub fn locate(&self, e: &ConfigError) -> MachineError {
        let (key, message) = e.0.split_once(": ").unwrap_or(("", &e.0));
        let place = match key {
            "frames" => self.memory.as_ref().map(|g| &g.place),
            "tlb" => self.tlb.as_ref().map(|g| &g.place),
            "policy" => self.policy.as_ref().map(|g| &g.place),
            "swap" => self.swap.as_ref().map(|g| &g.place),
            "huge-pages" => self.huge_pages.as_ref().map(|g| &g.place),
            _ => None,
        };
        match place {
            Some(place) => MachineError {
                place: Some(place.clone()),
                message: message.to_string(),
            },
            None => MachineError {
                place: None,
                message: e.0.clone(),
            },
        }
    }
}

/// Reads the machine file at `path`; an `arch-file` in it is relative to
/// the file's directory.
pub fn load_machine_file(path: &Path) -> Result<MachineSpec, MachineError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| MachineError {
        place: None,
        message: format!("{origin}: cannot read: {e}"),
    })?;
    let dir = path.parent().unwrap_or(Path::new(""));
    parse_machine_toml(&text, &origin, dir)
}

/// The key of the `key = value` line holding byte `offset`, when the
/// offset lies in the value: what a syntax error inside a value names.
fn key_of_value_at(text: &str, offset: usize) -> Option<&str> {
    let start = text.get(..offset)?.rfind('\n').map_or(0, |i| i + 1);
    let (key, _) = text.get(start..offset)?.split_once('=')?;
    let key = key.trim();
    (!key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    .then_some(key)
}

/// Parses a machine file's `text` (called `origin` in messages); a
/// relative `arch-file` is taken from `dir`. Only the keys and their
/// types and ranges are checked here; [`MachineSpec::config`] checks the
/// values together.
pub fn parse_machine_toml(
    text: &str,
    origin: &str,
    dir: &Path,
) -> Result<MachineSpec, MachineError> {
    let at = |offset: usize, key: &str| {
        let (line, column) = line_column(text, offset);
        Place::File {
            file: origin.to_string(),
            line,
            column,
            key: key.to_string(),
        }
    };
    let doc = ImDocument::parse(text).map_err(|e| {
        let offset = e.span().map_or(0, |span| span.start);
        let (line, column) = line_column(text, offset);
        let mut message = e.message().trim().replace('\n', "; ");
        // TOML's integers are 64-bit signed; the parser's own words for a
        // larger one name neither the key nor the limit.
        if message.contains("too large") {
            message.push_str(&format!(" (a TOML integer is at most {})", i64::MAX));
        }
        let key = key_of_value_at(text, offset).map_or(String::new(), |k| format!("key `{k}`: "));
        MachineError {
            place: None,
            message: format!("{origin}:{line}:{column}: {key}{message}"),
        }
    })?;
    let mut spec = MachineSpec::default();
    let table = doc.as_table();
    for (key, item) in table.iter() {
        let key_at = table
            .key(key)
            .and_then(|k| k.span())
            .map_or(0, |span| span.start);
        if !KEYS.contains(&key) {
            return Err(MachineError {
                place: Some(at(key_at, key)),
                message: format!("unknown key; expected one of {}", KEYS.join(", ")),
            });
        }
        let Item::Value(value) = item else {
            return Err(MachineError {
                place: Some(at(key_at, key)),
                message: "expected a value; a machine file has no tables".into(),
            });
        };
        let place = at(value.span().map_or(key_at, |span| span.start), key);
        let fail = |message: String| MachineError {
            place: Some(place.clone()),
            message,
        };
        match key {
            "arch" => {
                twice(&spec.arch, &place)?;
                spec.arch = Some(given(
                    ArchSource::Named(string(value).map_err(fail)?),
                    &place,
                ));
            }
            "arch-file" => {
                twice(&spec.arch, &place)?;
                let path = dir.join(string(value).map_err(fail)?);
                spec.arch = Some(given(ArchSource::File(path), &place));
            }
            "frames" => {
                twice(&spec.memory, &place)?;
                let n = count(value).map_err(fail)?;
                spec.memory = Some(given(Memory::Frames(n), &place));
            }
            "mem" => {
                twice(&spec.memory, &place)?;
                spec.memory = Some(given(Memory::Bytes(size(value).map_err(fail)?), &place));
            }
            "policy" => spec.policy = Some(given(string(value).map_err(fail)?, &place)),
            "scope" => {
                let choices = [
                    ("global", ReplacementScope::Global),
                    ("local", ReplacementScope::Local),
                ];
                spec.scope = Some(given(one_of(value, &choices).map_err(fail)?, &place));
            }
            "tlb" => spec.tlb = Some(given(string(value).map_err(fail)?, &place)),
            "swap" => spec.swap = Some(given(size(value).map_err(fail)?, &place)),
            "personality" => {
                let choices = [
                    ("linux", Personality::Linux),
                    ("pintos", Personality::Pintos),
                    ("xv6", Personality::Xv6),
                ];
                spec.personality = Some(given(one_of(value, &choices).map_err(fail)?, &place));
            }
            "read-ahead" => spec.read_ahead = Some(given(count(value).map_err(fail)?, &place)),
            _ => spec.huge_pages = Some(given(count(value).map_err(fail)?, &place)),
        }
    }
    Ok(spec)
}

fn given<T>(value: T, place: &Place) -> Given<T> {
    Given {
        value,
        place: place.clone(),
    }
}

/// Refuses a second key for a setting a file already gave (`mem` after
/// `frames`), at the second.
fn twice<T>(earlier: &Option<Given<T>>, place: &Place) -> Result<(), MachineError> {
    match earlier {
        Some(Given {
            place: Place::File { key: first, .. },
            ..
        }) => Err(MachineError {
            place: Some(place.clone()),
            message: format!("the same setting as `{first}` above; give one of them"),
        }),
        _ => Ok(()),
    }
}

/// What a value is, for "expected ..., found ..." messages.
fn found(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the string {:?}", s.value()),
        Value::Integer(i) => format!("the integer {}", i.value()),
        Value::Float(x) => format!("the float {}", x.value()),
        Value::Boolean(b) => format!("the boolean {}", b.value()),
        Value::Datetime(_) => "a date-time".into(),
        Value::Array(_) => "an array".into(),
        Value::InlineTable(_) => "a table".into(),
    }
}

fn string(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.value().clone()),
        other => Err(format!("expected a string, found {}", found(other))),
    }
}

/// The value of the string among `choices` that names it.
fn one_of<T: Copy>(value: &Value, choices: &[(&str, T)]) -> Result<T, String> {
    let name = string(value)?;
    if let Some(&(_, chosen)) = choices.iter().find(|(n, _)| *n == name) {
        return Ok(chosen);
    }
    let quoted: Vec<String> = choices.iter().map(|(n, _)| format!("{n:?}")).collect();
    let expected = match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    Err(format!("expected {expected}, found {name:?}"))
}

/// A non-negative integer.
fn count(value: &Value) -> Result<u64, String> {
    match value {
        Value::Integer(i) => u64::try_from(*i.value())
            .map_err(|_| format!("expected a count of 0 or more, found {}", i.value())),
        other => Err(format!("expected an integer, found {}", found(other))),
    }
}

/// Bytes: an integer, or a string with a unit (`"64MiB"`).
fn size(value: &Value) -> Result<u64, String> {
    match value {
        Value::Integer(i) => u64::try_from(*i.value())
            .map_err(|_| format!("expected a size of 0 or more bytes, found {}", i.value())),
        Value::String(s) => parse_size(s.value()),
        other => Err(format!(
            "expected a size (bytes, or a string such as \"64MiB\"), found {}",
            found(other)
        )),
    }
}
