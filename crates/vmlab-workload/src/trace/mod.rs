//! Real traces read as streams of [`MemRef`]: Valgrind lackey text
//! ([`lackey`](TraceFormat::Lackey)), plain address lists
//! ([`addr`](TraceFormat::Addr)), vmlab's own compact binary format
//! ([`bin`], with its writer) and libCacheSim's oracleGeneral binary format
//! ([`oracle`]); any of them gzip- or zstd-compressed, detected by magic
//! bytes.
//!
//! [`open`] takes a path (or `-`, standard input), undoes compression, and
//! picks the reader: the
//! format given, or one detected from the first block ([`detect`]). Every
//! reader is an `Iterator<Item = Result<MemRef, TraceError>>` over its own
//! reusable buffer, so a trace of any size runs in constant memory and the
//! per-record path allocates nothing; an uncompressed file's buffer is the
//! file itself, mapped, with the pages behind the reader given back.
//! Lackey text and vmlab-bin can also carry a program's address-space
//! system calls; `next_op` (and [`TraceReader::ops`]) gives them in order
//! with the accesses as [`Op`]s, while the plain iterator skips them. A
//! bad record is a [`TraceError`] naming `file:line:column` (text) or the
//! byte offset (binary) and what was expected; with
//! [`ReadOptions::skip_bad_lines`] text readers count bad lines
//! ([`TraceReader::skipped`]) and go on instead.
//!
//! Files: [`text`] (lackey and address lists), [`bin`], [`oracle`],
//! [`convert`] (any trace to zstd-compressed vmlab-bin), `input` (the
//! shared buffer) and `mapped` (a file mapped as that buffer).

pub mod bin;
pub mod convert;
mod input;
mod mapped;
pub mod oracle;
pub mod text;

use crate::op::{MemRef, Op};
use input::{CountingRead, FileRead, Input};
use mapped::MappedFile;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

pub use bin::{BinReader, BinWriter};
pub use oracle::OracleReader;
pub use text::{AddrReader, LackeyReader};

/// How a trace is read, beyond its format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// Count and skip malformed text lines instead of stopping at the
    /// first. Binary formats have no lines to resynchronise on, so for them
    /// a bad record is always an error.
    pub skip_bad_lines: bool,
    /// Page size in bytes (a power of two): oracleGeneral object `i` is the
    /// page at `i * page_size`.
    pub page_size: u64,
}

impl Default for ReadOptions {
    fn default() -> ReadOptions {
        ReadOptions {
            skip_bad_lines: false,
            page_size: 4096,
        }
    }
}

/// The trace formats, by their command-line names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TraceFormat {
    /// `lackey`: Valgrind lackey `--trace-mem=yes` output.
    Lackey,
    /// `addr`: one address per line, hex (`0x`) or decimal, optional R/W.
    Addr,
    /// `vmlab-bin`: vmlab's binary format (see [`bin`]).
    VmlabBin,
    /// `oracle-general`: libCacheSim's oracleGeneral binary records.
    OracleGeneral,
}

impl TraceFormat {
    /// Every format, in the order help texts list them.
    pub const ALL: [TraceFormat; 4] = [
        TraceFormat::Lackey,
        TraceFormat::Addr,
        TraceFormat::VmlabBin,
        TraceFormat::OracleGeneral,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            TraceFormat::Lackey => "lackey",
            TraceFormat::Addr => "addr",
            TraceFormat::VmlabBin => "vmlab-bin",
            TraceFormat::OracleGeneral => "oracle-general",
        }
    }
}

impl fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A trace format name that is not one of [`TraceFormat::ALL`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownFormat(String);

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expected a trace format (lackey, addr, vmlab-bin or oracle-general), found {:?}",
            self.0
        )
    }
}

impl std::error::Error for UnknownFormat {}

impl FromStr for TraceFormat {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<TraceFormat, UnknownFormat> {
        TraceFormat::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// Where in a trace an error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// 1-based line and byte column of a text trace.
    Text { line: u64, col: u64 },
    /// Byte offset into the decompressed stream of a binary trace.
    Byte(u64),
    /// The file as a whole (opening it, detecting its format).
    File,
}

#[derive(Debug)]
enum Problem {
    Io(io::Error),
    Expected {
        expected: &'static str,
        found: String,
    },
}

/// Why a trace could not be read: the file, the place in it, and either
/// what was expected and found there or the I/O error.
#[derive(Debug)]
pub struct TraceError {
    file: Arc<str>,
    place: Place,
    problem: Problem,
}

impl TraceError {
    pub(crate) fn at_line(
        file: &Arc<str>,
        line: u64,
        col: u64,
        expected: &'static str,
        found: String,
    ) -> TraceError {
        TraceError {
            file: file.clone(),
            place: Place::Text { line, col },
            problem: Problem::Expected { expected, found },
        }
    }

    pub(crate) fn at_byte(
        file: &Arc<str>,
        offset: u64,
        expected: &'static str,
        found: String,
    ) -> TraceError {
        TraceError {
            file: file.clone(),
            place: Place::Byte(offset),
            problem: Problem::Expected { expected, found },
        }
    }

    pub(crate) fn io(file: &Arc<str>, err: io::Error) -> TraceError {
        TraceError {
            file: file.clone(),
            place: Place::File,
            problem: Problem::Io(err),
        }
    }

    fn whole_file(file: &Arc<str>, expected: &'static str, found: String) -> TraceError {
        TraceError {
            file: file.clone(),
            place: Place::File,
            problem: Problem::Expected { expected, found },
        }
    }

    /// The same error again, for a second reader of one stream (an I/O
    /// error as its kind and text, which is all its display shows).
    pub(crate) fn duplicate(&self) -> TraceError {
        TraceError {
            file: self.file.clone(),
            place: self.place,
            problem: match &self.problem {
                Problem::Io(e) => Problem::Io(io::Error::new(e.kind(), e.to_string())),
                Problem::Expected { expected, found } => Problem::Expected {
                    expected,
                    found: found.clone(),
                },
            },
        }
    }

    /// The trace's name as given to the reader (usually its path).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The 1-based line, for an error in a text trace.
    pub fn line(&self) -> Option<u64> {
        match self.place {
            Place::Text { line, .. } => Some(line),
            _ => None,
        }
    }

    /// The 1-based byte column, for an error in a text trace.
    pub fn column(&self) -> Option<u64> {
        match self.place {
            Place::Text { col, .. } => Some(col),
            _ => None,
        }
    }

    /// The byte offset in the decompressed stream, for an error in a
    /// binary trace.
    pub fn offset(&self) -> Option<u64> {
        match self.place {
            Place::Byte(off) => Some(off),
            _ => None,
        }
    }

    /// What the reader expected, unless this is an I/O error.
    pub fn expected(&self) -> Option<&str> {
        match &self.problem {
            Problem::Expected { expected, .. } => Some(expected),
            Problem::Io(_) => None,
        }
    }

    /// Whether reading failed in the operating system or decompressor
    /// rather than on the trace's contents.
    pub fn is_io(&self) -> bool {
        matches!(self.problem, Problem::Io(_))
    }
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.place {
            Place::Text { line, col } => write!(f, "{}:{line}:{col}: ", self.file)?,
            Place::Byte(off) => write!(f, "{}: byte {off}: ", self.file)?,
            Place::File => write!(f, "{}: ", self.file)?,
        }
        match &self.problem {
            Problem::Io(e) => write!(f, "{e}"),
            Problem::Expected { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
        }
    }
}

impl std::error::Error for TraceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            Problem::Io(e) => Some(e),
            Problem::Expected { .. } => None,
        }
    }
}

/// A boxed byte source, as compressed files need.
pub type DynRead = Box<dyn Read + Send>;

/// A reader for any format over a boxed source; what [`open`] returns.
pub enum TraceReader {
    /// Valgrind lackey text.
    Lackey(LackeyReader<DynRead>),
    /// A plain address list.
    Addr(AddrReader<DynRead>),
    /// vmlab's binary format.
    VmlabBin(BinReader<DynRead>),
    /// libCacheSim oracleGeneral.
    OracleGeneral(OracleReader<DynRead>),
}

impl fmt::Debug for TraceReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceReader")
            .field("format", &self.format())
            .field("skipped", &self.skipped())
            .finish()
    }
}

impl TraceReader {
    /// The format being read.
    pub fn format(&self) -> TraceFormat {
        match self {
            TraceReader::Lackey(_) => TraceFormat::Lackey,
            TraceReader::Addr(_) => TraceFormat::Addr,
            TraceReader::VmlabBin(_) => TraceFormat::VmlabBin,
            TraceReader::OracleGeneral(_) => TraceFormat::OracleGeneral,
        }
    }

    /// Whether reading costs little beside simulating: a binary format
    /// read in place (not decompressed, not from a pipe), whose records
    /// decode in a few instructions each, fewer than handing them to
    /// another thread costs. Text is parsed, and a compressed file
    /// decompressed, at a cost like the simulation's.
    pub fn cheap_to_read(&self) -> bool {
        match self {
            TraceReader::VmlabBin(r) => r.reads_in_place(),
            TraceReader::OracleGeneral(r) => r.reads_in_place(),
            TraceReader::Lackey(_) | TraceReader::Addr(_) => false,
        }
    }

    /// Malformed lines skipped so far (always 0 unless
    /// [`ReadOptions::skip_bad_lines`]).
    pub fn skipped(&self) -> u64 {
        match self {
            TraceReader::Lackey(r) => r.skipped(),
            TraceReader::Addr(r) => r.skipped(),
            TraceReader::VmlabBin(_) | TraceReader::OracleGeneral(_) => 0,
        }
    }
}

impl TraceReader {
    /// The next access or system call, in the trace's order (address
    /// lists and oracleGeneral have accesses only).
    #[inline]
    pub fn next_op(&mut self) -> Option<Result<Op, TraceError>> {
        match self {
            TraceReader::Lackey(r) => r.next_op(),
            TraceReader::VmlabBin(r) => r.next_op(),
            TraceReader::Addr(r) => r.next().map(|r| r.map(Op::Access)),
            TraceReader::OracleGeneral(r) => r.next().map(|r| r.map(Op::Access)),
        }
    }

    /// The trace as a stream of [`Op`]s: accesses and system calls.
    pub fn ops(&mut self) -> Ops<'_> {
        Ops(self)
    }
}

/// A [`TraceReader`] read as accesses and system calls; see
/// [`TraceReader::ops`].
#[derive(Debug)]
pub struct Ops<'a>(&'a mut TraceReader);

impl Iterator for Ops<'_> {
    type Item = Result<Op, TraceError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next_op()
    }
}

impl Iterator for TraceReader {
    type Item = Result<MemRef, TraceError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            TraceReader::Lackey(r) => r.next(),
            TraceReader::Addr(r) => r.next(),
            TraceReader::VmlabBin(r) => r.next(),
            TraceReader::OracleGeneral(r) => r.next(),
        }
    }
}

/// The next access from a stream of [`Op`]s (`next_op`), skipping
/// system calls: the plain iterators of readers that carry them.
#[inline]
fn next_access(
    mut next_op: impl FnMut() -> Option<Result<Op, TraceError>>,
) -> Option<Result<MemRef, TraceError>> {
    loop {
        match next_op()? {
            Ok(Op::Access(r)) => return Some(Ok(r)),
            Ok(Op::Syscall(_)) => {}
            Err(e) => return Some(Err(e)),
        }
    }
}

/// The path that names standard input where a trace's path is expected
/// (`--trace -`), as `-` names standard output for an output file.
pub const STANDARD_INPUT: &str = "-";

/// What messages call the trace at `path`: the path, or `<stdin>` for
/// [`STANDARD_INPUT`].
pub fn trace_name(path: &Path) -> String {
    if path == Path::new(STANDARD_INPUT) {
        "<stdin>".to_owned()
    } else {
        path.display().to_string()
    }
}

/// Whether the trace at `path` can be read only once: standard input, or
/// a path to a pipe, a terminal or any other stream rather than a regular
/// file. Reading it again would go on from where the last reader stopped
/// (or find nothing), so whatever reads a trace twice (a sweep's
/// configurations, OPT's pre-pass, placing an error at its line) must ask
/// this first. A path that cannot be looked at is not one: opening it
/// says why.
pub fn read_once(path: &Path) -> bool {
    path == Path::new(STANDARD_INPUT) || std::fs::metadata(path).is_ok_and(|m| !m.is_file())
}

/// Opens the trace at `path` ([`STANDARD_INPUT`]: the stream on standard
/// input, from where it stands): undoes gzip or zstd compression (detected
/// by magic bytes), then reads it as `format`, or as the format [`detect`]
/// recognises when `format` is `None`. An uncompressed regular file named
/// by its path is mapped and read in place rather than copied in by
/// read(2).
pub fn open(
    path: &Path,
    format: Option<TraceFormat>,
    opts: ReadOptions,
) -> Result<TraceReader, TraceError> {
    let name: Arc<str> = trace_name(path).into();
    if path == Path::new(STANDARD_INPUT) {
        // Read through a descriptor of its own, not `io::stdin()`'s
        // buffer, a copy the reader's own buffer makes needless. Never
        // mapped: a map starts at the file's first byte, and a stream
        // handed on (`(read header; vmlab run --trace -) < file`) goes on
        // from where it stands.
        let stdin = io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| TraceError::io(&name, e))?;
        return from_reader(Box::new(File::from(stdin)), name, format, opts);
    }
    let file = File::open(path).map_err(|e| TraceError::io(&name, e))?;
    // A regular file is read in place, unless compressed: the decoder
    // reads it as a stream, counted so the reader knows how far it is.
    let length = match MappedFile::map(&file).map_err(|e| TraceError::io(&name, e))? {
        Some(mapped) if !is_compressed(mapped.bytes()) => {
            check_options(&name, &opts)?;
            let input = Input::mapped(Box::new(io::empty()) as DynRead, mapped);
            return reader_of(input, name, format, opts);
        }
        Some(mapped) => mapped.bytes().len() as u64,
        None => return from_reader(Box::new(file), name, format, opts),
    };
    let (file, read) = CountingRead::new(file, length);
    read_stream(Box::new(file), name, format, opts, Some(read))
}

/// Like [`open`], for a trace that is already open (standard input, an
/// in-memory buffer); `name` is what error messages call it.
pub fn from_reader(
    src: DynRead,
    name: impl Into<Arc<str>>,
    format: Option<TraceFormat>,
    opts: ReadOptions,
) -> Result<TraceReader, TraceError> {
    read_stream(src, name.into(), format, opts, None)
}

/// [`from_reader`], for a compressed file too whose reading `counted`
/// counts.
fn read_stream(
    src: DynRead,
    name: Arc<str>,
    format: Option<TraceFormat>,
    opts: ReadOptions,
    counted: Option<FileRead>,
) -> Result<TraceReader, TraceError> {
    check_options(&name, &opts)?;
    let src = decompress(src).map_err(|e| TraceError::io(&name, e))?;
    let input = match counted {
        Some(read) => Input::decompressed(src, read),
        None => Input::new(src),
    };
    reader_of(input, name, format, opts)
}

/// Checks what the readers assume of `opts`.
fn check_options(name: &Arc<str>, opts: &ReadOptions) -> Result<(), TraceError> {
    if !opts.page_size.is_power_of_two() {
        return Err(TraceError::whole_file(
            name,
            "a page size that is a power of two",
            opts.page_size.to_string(),
        ));
    }
    Ok(())
}

/// The reader of `format` (or of the format [`detect`] recognises) over
/// `input`, uncompressed by now.
fn reader_of(
    mut input: Input<DynRead>,
    name: Arc<str>,
    format: Option<TraceFormat>,
    opts: ReadOptions,
) -> Result<TraceReader, TraceError> {
    let format = match format {
        Some(f) => f,
        None => {
            input
                .fill(DETECT_BYTES)
                .map_err(|e| TraceError::io(&name, e))?;
            let head = input.available();
            detect(&head[..head.len().min(DETECT_BYTES)]).ok_or_else(|| {
                TraceError::whole_file(
                    &name,
                    "a trace in a recognisable format (give the format explicitly)",
                    "neither lackey text, an address list nor vmlab-bin".to_owned(),
                )
            })?
        }
    };
    Ok(match format {
        TraceFormat::Lackey => TraceReader::Lackey(LackeyReader::from_input(input, name, opts)),
        TraceFormat::Addr => TraceReader::Addr(AddrReader::from_input(input, name, opts)),
        TraceFormat::VmlabBin => TraceReader::VmlabBin(BinReader::from_input(input, name)),
        TraceFormat::OracleGeneral => {
            TraceReader::OracleGeneral(OracleReader::from_input(input, name, opts))
        }
    })
}

/// How much of a trace [`detect`] looks at: the same whether the trace is
/// read as a stream or mapped whole (where looking at all of it would
/// bring all of it into memory).
const DETECT_BYTES: usize = 64 << 10;

/// zstd frame magic (RFC 8878 §3.1.1), little-endian 0xFD2FB528.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// gzip member magic (RFC 1952 §2.3.1).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Whether a source starting with `head` is compressed (zstd or gzip).
fn is_compressed(head: &[u8]) -> bool {
    head.starts_with(&ZSTD_MAGIC) || head.starts_with(&GZIP_MAGIC)
}

/// Wraps `src` in a decompressor when its first bytes are a zstd or gzip
/// magic number; otherwise returns it as it is.
pub fn decompress(mut src: DynRead) -> io::Result<DynRead> {
    // Peek by reading the magic's bytes and chaining them back in front,
    // rather than through a BufReader: an uncompressed trace then reaches
    // the reader's own buffer with no extra copy.
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < head.len() {
        match src.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let magic = &head[..got];
    let is_zstd = magic.starts_with(&ZSTD_MAGIC);
    let is_gzip = magic.starts_with(&GZIP_MAGIC);
    let src = io::Cursor::new(head).take(got as u64).chain(src);
    Ok(if is_zstd {
        Box::new(zstd::stream::read::Decoder::new(src)?)
    } else if is_gzip {
        // Multi-member, as `gzip -d` reads concatenated files.
        Box::new(flate2::read::MultiGzDecoder::new(src))
    } else {
        Box::new(src)
    })
}

/// Recognises a (decompressed) trace's format from its first bytes: the
/// vmlab-bin magic; text whose first record line is lackey-shaped (`I  `,
/// ` L `, ` S `, ` M `, `SB `, `SYSCALL[`) or starts with a digit (an
/// address list); any other bytes containing a NUL are taken to be
/// oracleGeneral, which has no header of its own. `None` when nothing fits.
pub fn detect(head: &[u8]) -> Option<TraceFormat> {
    if head.starts_with(&bin::MAGIC) {
        return Some(TraceFormat::VmlabBin);
    }
    if head.contains(&0) {
        return Some(TraceFormat::OracleGeneral);
    }
    for line in head.split(|&b| b == b'\n') {
        let t = line.trim_ascii();
        if t.is_empty() || t.starts_with(b"#") || line.starts_with(b"==") || line.starts_with(b"--")
        {
            continue;
        }
        if [b"I  ", b" L ", b" S ", b" M ", b"SB "]
            .iter()
            .any(|p| line.starts_with(*p))
            || line.starts_with(b"SYSCALL[")
        {
            return Some(TraceFormat::Lackey);
        }
        if t[0].is_ascii_digit() {
            return Some(TraceFormat::Addr);
        }
        return None;
    }
    None
}
