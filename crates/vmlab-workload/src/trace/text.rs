//! The text trace readers: Valgrind lackey output ([`LackeyReader`]) and
//! plain address lists ([`AddrReader`]), one [`TextReader`] parameterised
//! by the line grammar.
//!
//! Lackey (`valgrind --tool=lackey --trace-mem=yes`, lackey/lk_main.c)
//! prints one access per line: `I  ADDR,SIZE` (instruction fetch, `I` in
//! column 1), ` L ADDR,SIZE` (load), ` S ADDR,SIZE` (store) and
//! ` M ADDR,SIZE` (modify: a load then a store of the same bytes, given as
//! two [`MemRef`]s), ADDR in hex without `0x`, SIZE in decimal. Lines
//! starting `==` (Valgrind's own messages) or `--` (its debug output),
//! `SB ADDR` superblock markers and blank lines are skipped. Leading blanks
//! and the width of the gap are not checked, so hand-edited traces read
//! too.
//!
//! With `--trace-syscalls=yes` Valgrind also prints one line per system
//! call (coregrind/m_syswrap/syswrap-main.c and the `PRINT`s of
//! syswrap-linux.c / syswrap-amd64-linux.c), in order with the accesses:
//!
//! ```text
//! SYSCALL[23559,1](9) sys_mmap ( 0x0, 8192, 3, 34, 4294967295, 0 ) --> [pre-success] Success(0x4835000)
//! SYSCALL[23559,1](10) sys_mprotect ( 0x4a14000, 16384, 1 )[sync] --> Success(0x0)
//! SYSCALL[23559,1](12) sys_brk ( 0x0 ) --> [pre-success] Success(0x4035000)
//! SYSCALL[23559,1](25) sys_mremap ( 0x483c000, 32768, 262144, 0x1 ) --> [pre-success] Success(0x4b2b000)
//! SYSCALL[23559,1](9) sys_mmap ( 0x1, 4096, 99, 2, 77, 0 ) --> [pre-fail] Failure(0x16)
//! ```
//!
//! `sys_brk`, `sys_mmap`, `sys_munmap`, `sys_mprotect` and `sys_mremap`
//! lines become [`Line::Sys`] records (arguments hex with `0x` or decimal;
//! the result's number hex, an errno for `Failure`); every other
//! `SYSCALL[` line, the `... [async] -->` completions of blocking calls and
//! the ` --> [pre-fail] ...` continuation of an unimplemented call are
//! skipped. The five kept calls never block, so Valgrind always prints
//! them whole on one line; one without its result is malformed.
//!
//! An address list has one access per line: an address, hex with `0x` or
//! decimal, then optionally `R`/`r` (read, the default) or `W`/`w`
//! (write), separated by blanks or a comma. Blank lines and `#` comments
//! (whole-line or trailing) are skipped. Each access is 1 byte: such
//! traces name locations, not widths.
//!
//! Parsing works on the bytes of a line in the reader's buffer; nothing is
//! allocated unless a line is bad.

use super::input::{Input, NextLine, MAX_LINE};
use super::{ReadOptions, TraceError};
use crate::chunk::{Chunk, ChunkedOps};
use crate::op::{MemRef, Op};
use crate::syscall::{AddressCall, Syscall, CALL_NAMES};
use std::io::Read;
use std::sync::Arc;
use vmlab_hw::AccessKind;

/// What one line holds.
pub enum Line {
    /// Nothing (a comment, a blank line, a message).
    Skip,
    /// One access.
    One(MemRef),
    /// Two accesses, in order (lackey's modify).
    Two(MemRef, MemRef),
    /// An address-space system call.
    Sys(Syscall),
}

/// Where a line went wrong: the 0-based byte index, and what should have
/// been there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bad {
    /// Byte index in the line of the offending text.
    pub at: usize,
    /// What was expected there, for the message.
    pub expected: &'static str,
}

/// A line grammar.
pub trait LineFormat {
    /// Text every system-call line of the grammar holds, so a trace
    /// without it has none; `None`: the grammar has no such lines.
    const CALL_MARK: Option<&'static [u8]>;

    /// Parses one line (without its line ending).
    fn parse(line: &[u8]) -> Result<Line, Bad>;

    /// The fast path for the commonest lines: when `buf` (the unread
    /// input) starts with a whole line in the grammar's canonical form, the
    /// access [`parse`](LineFormat::parse) would make of it (with whether
    /// it is a modify, a load then a store) and the bytes the line takes
    /// with its `\n`; `None` for anything else (which then goes the
    /// general way, line ending found first). Never wrong where it answers:
    /// it accepts a subset of what `parse` accepts.
    #[inline(always)]
    fn parse_canonical(_buf: &[u8]) -> Option<(MemRef, bool, usize)> {
        None
    }
}

/// Valgrind lackey's `--trace-mem=yes` lines.
#[derive(Debug)]
pub enum Lackey {}

/// One address per line with an optional R/W column.
#[derive(Debug)]
pub enum Addr {}

/// A text trace reader over a byte source `R` for the grammar `F`.
pub struct TextReader<R, F> {
    input: Input<R>,
    name: Arc<str>,
    opts: ReadOptions,
    line: u64,
    skipped: u64,
    /// Accesses parsed ahead and not given yet: `ready[next..]`. Canonical
    /// lines are parsed [`READ_AHEAD`] at a time, which keeps the parse
    /// loop tight and `next_op` small; a modify line's store waits here too.
    ready: Vec<MemRef>,
    next: usize,
    done: bool,
    /// Whether the trace is known to hold no system-call line, once
    /// [`ChunkedOps::accesses_only`] has asked.
    calls_absent: Option<bool>,
    _format: std::marker::PhantomData<F>,
}

/// Reads Valgrind lackey output.
pub type LackeyReader<R> = TextReader<R, Lackey>;
/// Reads plain address lists.
pub type AddrReader<R> = TextReader<R, Addr>;

impl<R, F> std::fmt::Debug for TextReader<R, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextReader")
            .field("name", &self.name)
            .field("line", &self.line)
            .field("skipped", &self.skipped)
            .finish()
    }
}

impl<R: Read, F: LineFormat> TextReader<R, F> {
    /// A reader of the uncompressed text `src`, which error messages call
    /// `name`.
    pub fn new(src: R, name: impl Into<Arc<str>>, opts: ReadOptions) -> TextReader<R, F> {
        TextReader::from_input(Input::new(src), name.into(), opts)
    }

    pub(crate) fn from_input(input: Input<R>, name: Arc<str>, opts: ReadOptions) -> Self {
        TextReader {
            input,
            name,
            opts,
            line: 0,
            skipped: 0,
            ready: Vec::with_capacity(READ_AHEAD + 1),
            next: 0,
            done: false,
            calls_absent: None,
            _format: std::marker::PhantomData,
        }
    }

    /// Malformed lines skipped so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Lines read so far.
    pub fn lines(&self) -> u64 {
        self.line
    }

    #[cold]
    fn bad_line(&mut self, line: &[u8], bad: Bad) -> Option<Result<Op, TraceError>> {
        if self.opts.skip_bad_lines {
            self.skipped += 1;
            return None;
        }
        self.done = true;
        Some(Err(TraceError::at_line(
            &self.name,
            self.line,
            bad.at as u64 + 1,
            bad.expected,
            found(line, bad.at),
        )))
    }
}

impl<R: Read, F: LineFormat> TextReader<R, F> {
    /// The line that holds record `n` of the trace (1-based, accesses and
    /// system calls counted in order as [`TextReader::next_op`] gives
    /// them, a modify line's load and store both on their line), read
    /// from where the reader is (a fresh one: the start); `None` past the
    /// end or the first bad line a reader not skipping them stops at. For
    /// an error's message, after a run: lines are taken one at a time.
    pub fn line_of_record(mut self, n: u64) -> Option<u64> {
        let mut records = 0;
        loop {
            let (start, end) = match self.input.next_line() {
                Ok(NextLine::Line { start, end }) => (start, end),
                Ok(NextLine::TooLong) if self.opts.skip_bad_lines => {
                    self.line += 1;
                    continue;
                }
                Ok(NextLine::TooLong | NextLine::Eof) | Err(_) => return None,
            };
            self.line += 1;
            records += match F::parse(&self.input.buf()[start..end]) {
                Ok(Line::Skip) => 0,
                Ok(Line::One(_) | Line::Sys(_)) => 1,
                Ok(Line::Two(..)) => 2,
                Err(_) if self.opts.skip_bad_lines => 0,
                Err(_) => return None,
            };
            if records >= n {
                return Some(self.line);
            }
        }
    }

    /// The next access or system call, in the trace's order.
    #[inline(always)]
    pub fn next_op(&mut self) -> Option<Result<Op, TraceError>> {
        if let Some(&r) = self.ready.get(self.next) {
            self.next += 1;
            return Some(Ok(Op::Access(r)));
        }
        self.next_op_unready()
    }

    /// [`TextReader::next_op`] once the accesses read ahead are all given:
    /// reads ahead again, or takes a line the general way.
    #[inline(never)]
    fn next_op_unready(&mut self) -> Option<Result<Op, TraceError>> {
        self.read_ahead();
        match self.ready.first() {
            Some(&r) => {
                self.next = 1;
                Some(Ok(Op::Access(r)))
            }
            None => self.next_op_by_line(),
        }
    }

    /// Parses up to [`READ_AHEAD`] canonical lines into `ready`, stopping at
    /// the first other line (or a line the buffer does not hold whole).
    fn read_ahead(&mut self) {
        self.ready.clear();
        self.next = 0;
        // The buffer's position and the line count are kept in locals and
        // stored once, after the batch.
        let available = self.input.available();
        let (mut used, mut lines) = (0, 0);
        while self.ready.len() < READ_AHEAD {
            let rest = available.get(used..).unwrap_or_default();
            let Some((r, modify, n)) = F::parse_canonical(rest) else {
                break;
            };
            used += n;
            lines += 1;
            self.ready.push(r);
            if modify {
                self.ready.push(MemRef {
                    kind: AccessKind::Write,
                    ..r
                });
            }
        }
        self.input.consume(used);
        self.line += lines;
    }

    /// [`TextReader::next_op`] the general way: the line's end found, the
    /// buffer refilled as needed, then the line parsed; bad lines reported
    /// or skipped.
    #[inline(never)]
    fn next_op_by_line(&mut self) -> Option<Result<Op, TraceError>> {
        while !self.done {
            let (start, end) = match self.input.next_line() {
                Ok(NextLine::Line { start, end }) => (start, end),
                Ok(NextLine::Eof) => {
                    self.done = true;
                    return None;
                }
                Ok(NextLine::TooLong) => {
                    self.line += 1;
                    let bad = Bad {
                        at: MAX_LINE,
                        expected: "a line of at most 1 MiB",
                    };
                    if let Some(e) = self.bad_line(b"", bad) {
                        return Some(e);
                    }
                    continue;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(TraceError::io(&self.name, e)));
                }
            };
            self.line += 1;
            match F::parse(&self.input.buf()[start..end]) {
                Ok(Line::Skip) => {}
                Ok(Line::One(r)) => return Some(Ok(Op::Access(r))),
                Ok(Line::Two(a, b)) => {
                    // The store waits where read-ahead accesses do (all
                    // given by now).
                    self.ready.clear();
                    self.ready.push(b);
                    self.next = 0;
                    return Some(Ok(Op::Access(a)));
                }
                Ok(Line::Sys(call)) => return Some(Ok(Op::Syscall(call))),
                Err(bad) => {
                    // Copy out the line only on this cold path.
                    let text = self.input.buf()[start..end].to_vec();
                    if let Some(e) = self.bad_line(&text, bad) {
                        return Some(e);
                    }
                }
            }
        }
        None
    }
}

/// The accesses parsed ahead are lent as one slice; a line read the
/// general way joins them (a modify line's load before its store) or is
/// its own chunk (a system call, an error).
impl<R: Read, F: LineFormat> ChunkedOps for TextReader<R, F> {
    #[inline]
    fn read_chunk(&mut self) -> Option<Result<Chunk<'_>, TraceError>> {
        if self.next >= self.ready.len() {
            self.read_ahead();
            if self.ready.is_empty() {
                match self.next_op_by_line()? {
                    // `ready` holds a modify line's store, if any.
                    Ok(Op::Access(r)) => self.ready.insert(0, r),
                    Ok(Op::Syscall(call)) => return Some(Ok(Chunk::Syscall(call))),
                    Err(e) => return Some(Err(e)),
                }
            }
        }
        let start = std::mem::replace(&mut self.next, self.ready.len());
        Some(Ok(Chunk::Accesses(&self.ready[start..])))
    }

    /// An address list has no system-call lines. A lackey file read in
    /// place has none when no line holds `SYSCALL[` (Valgrind's own
    /// `--trace-mem=yes` output, without `--trace-syscalls=yes`), which
    /// one search of the file says before the first line is parsed (about
    /// 0.03 s for 16 million lines, 232 MB; with it and the lean engine
    /// the full model's run of them took 0.87 of the time on one core).
    /// A compressed or piped one is not known until read.
    fn fraction_read(&self) -> Option<f64> {
        self.input.fraction_read()
    }

    fn accesses_only(&mut self) -> bool {
        let Some(mark) = F::CALL_MARK else {
            return true;
        };
        *self
            .calls_absent
            .get_or_insert_with(|| self.input.lacks(mark).unwrap_or(false))
    }
}

/// The accesses alone; system calls are skipped.
impl<R: Read, F: LineFormat> Iterator for TextReader<R, F> {
    type Item = Result<MemRef, TraceError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        super::next_access(|| self.next_op())
    }
}

/// The text at `at` for an error message: the word there, quoted, or
/// "end of line".
fn found(line: &[u8], at: usize) -> String {
    if at >= MAX_LINE {
        return "a longer line".to_owned();
    }
    let rest = line.get(at..).unwrap_or_default();
    if rest.is_empty() {
        return "end of line".to_owned();
    }
    let len = rest
        .iter()
        .position(|&b| b.is_ascii_whitespace() || b == b',')
        .unwrap_or(rest.len())
        .clamp(1, 32);
    format!("{:?}", String::from_utf8_lossy(&rest[..len]))
}

fn skip_blanks(line: &[u8], mut i: usize) -> usize {
    while i < line.len() && (line[i] == b' ' || line[i] == b'\t') {
        i += 1;
    }
    i
}

/// Value of each byte as a hex digit; 0xff for non-digits. A table look-up
/// instead of a three-way range match keeps the digit loop branch-light;
/// it is the hottest loop of lackey reading.
const HEX: [u8; 256] = {
    let mut t = [0xff; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Canonical lines a text reader parses ahead at a time.
const READ_AHEAD: usize = 256;

/// Bytes [`Lackey::parse_canonical`] looks at: more than its longest line.
const CANONICAL_WINDOW: usize = 32;

/// Parses hex digits at `i` (at least one, at most 16); returns the value
/// and the index after them.
#[inline]
fn hex(line: &[u8], i: usize, expected: &'static str) -> Result<(u64, usize), Bad> {
    let mut v: u64 = 0;
    let mut j = i;
    while let Some(&b) = line.get(j) {
        let d = HEX[usize::from(b)];
        if d > 15 {
            break;
        }
        v = v << 4 | u64::from(d);
        j += 1;
    }
    if j == i {
        return Err(Bad { at: i, expected });
    }
    if j - i > 16 {
        return Err(Bad {
            at: i,
            expected: "an address of at most 16 hex digits",
        });
    }
    Ok((v, j))
}

/// Parses decimal digits at `i` (at least one) that fit in `max`.
#[inline]
fn decimal(
    line: &[u8],
    i: usize,
    max: u64,
    expected: &'static str,
    too_big: &'static str,
) -> Result<(u64, usize), Bad> {
    let mut v: u64 = 0;
    let mut j = i;
    while j < line.len() && line[j].is_ascii_digit() {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(line[j] - b'0')))
            .filter(|&v| v <= max)
            .ok_or(Bad {
                at: i,
                expected: too_big,
            })?;
        j += 1;
    }
    if j == i {
        return Err(Bad { at: i, expected });
    }
    Ok((v, j))
}

/// Only blanks may follow; `comments` allows a trailing `#` comment.
fn end_of_line(line: &[u8], i: usize, comments: bool) -> Result<(), Bad> {
    let i = skip_blanks(line, i);
    if i == line.len() || (comments && line[i] == b'#') {
        Ok(())
    } else {
        Err(Bad {
            at: i,
            expected: "end of line",
        })
    }
}

impl LineFormat for Lackey {
    const CALL_MARK: Option<&'static [u8]> = Some(SYSCALL);

    #[inline]
    fn parse(line: &[u8]) -> Result<Line, Bad> {
        let i = skip_blanks(line, 0);
        let Some(&k) = line.get(i) else {
            return Ok(Line::Skip);
        };
        let kind = match k {
            b'I' => AccessKind::Fetch,
            b'L' => AccessKind::Read,
            b'S' if line.get(i + 1) == Some(&b'B') => return Ok(Line::Skip),
            b'S' if line.get(i + 1) == Some(&b'Y') && line[i..].starts_with(SYSCALL) => {
                return syscall_line(line, i + SYSCALL.len());
            }
            b'S' => AccessKind::Write,
            b'M' => AccessKind::Read,
            b'=' | b'-' if i == 0 && line.get(1) == Some(&k) => return Ok(Line::Skip),
            // The second line of an unimplemented call's message.
            b'-' if line[i..].starts_with(b"-->") => return Ok(Line::Skip),
            _ => {
                return Err(Bad {
                    at: i,
                    expected: "an access kind (I, L, S or M)",
                })
            }
        };
        let j = skip_blanks(line, i + 1);
        if j == i + 1 {
            return Err(Bad {
                at: j,
                expected: "a blank after the access kind",
            });
        }
        let (addr, j) = hex(line, j, "a hexadecimal address")?;
        if line.get(j) != Some(&b',') {
            return Err(Bad {
                at: j,
                expected: "\",\" after the address",
            });
        }
        let (size, j) = decimal(
            line,
            j + 1,
            u64::from(u32::MAX),
            "a decimal size",
            "a size below 2^32",
        )?;
        if size == 0 {
            return Err(Bad {
                at: j - 1,
                expected: "a size of at least 1",
            });
        }
        end_of_line(line, j, false)?;
        let r = MemRef {
            addr,
            size: size as u32,
            kind,
            value: None,
        };
        Ok(lackey_line(k, r))
    }

    /// Exactly `I  ADDR,SIZE\n` or ` K ADDR,SIZE\n` (K one of L, S, M):
    /// 1 to 16 hex digits, a size of 1 to 9 decimal digits that is not 0,
    /// no blanks beyond lackey's own and no carriage return. Such a line is
    /// at most 30 bytes; the window read is 32, so a line near the end of
    /// the buffer goes the general way (which refills it).
    #[inline(always)]
    fn parse_canonical(buf: &[u8]) -> Option<(MemRef, bool, usize)> {
        let w: &[u8; CANONICAL_WINDOW] = buf.first_chunk()?;
        let (kind, modify) = match [w[0], w[1], w[2]] {
            [b'I', b' ', b' '] => (AccessKind::Fetch, false),
            [b' ', b'L', b' '] => (AccessKind::Read, false),
            [b' ', b'S', b' '] => (AccessKind::Write, false),
            [b' ', b'M', b' '] => (AccessKind::Read, true),
            _ => return None,
        };
        // Indices below stay under the window's length, so reading the
        // window needs no bounds checks.
        let mut addr = 0u64;
        let mut j = 3;
        while j < 19 {
            let d = HEX[usize::from(w[j])];
            if d > 15 {
                break;
            }
            addr = addr << 4 | u64::from(d);
            j += 1;
        }
        if j == 3 || w[j] != b',' {
            return None;
        }
        j += 1;
        let digits = j;
        let mut size = 0u32;
        // Nine digits always fit 32 bits; longer sizes go the long way.
        while j < digits + 9 && w[j].is_ascii_digit() {
            size = size * 10 + u32::from(w[j] - b'0');
            j += 1;
        }
        if size == 0 || w[j] != b'\n' {
            return None;
        }
        let r = MemRef {
            addr,
            size,
            kind,
            value: None,
        };
        Some((r, modify, j + 1))
    }
}

/// A lackey access line with kind letter `k`: a modify (`M`) is the load
/// `r` then a store of the same bytes.
#[inline(always)]
fn lackey_line(k: u8, r: MemRef) -> Line {
    if k == b'M' {
        Line::Two(
            r,
            MemRef {
                kind: AccessKind::Write,
                ..r
            },
        )
    } else {
        Line::One(r)
    }
}

/// How Valgrind's `--trace-syscalls` lines start.
const SYSCALL: &[u8] = b"SYSCALL[";

/// The byte index of `needle` in `line` at or after `from`.
fn find(line: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    line.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

/// A number at `i`: hex with `0x`, or decimal.
fn number(line: &[u8], i: usize) -> Result<(u64, usize), Bad> {
    if line[i..].starts_with(b"0x") {
        hex(line, i + 2, "hexadecimal digits after 0x")
    } else {
        decimal(
            line,
            i,
            u64::MAX,
            "a number (hex with 0x, or decimal)",
            "a number of at most 64 bits",
        )
    }
}

/// The rest of a `SYSCALL[` line from `i` (just after the bracket): the
/// call's name, its arguments and its result. Calls other than the five
/// address-space ones are skipped unread.
#[cold]
fn syscall_line(line: &[u8], i: usize) -> Result<Line, Bad> {
    let Some(close) = find(line, i, b"](") else {
        return Err(Bad {
            at: i,
            expected: "\"PID,TID](NUMBER)\" after SYSCALL[",
        });
    };
    let Some(paren) = find(line, close + 2, b")") else {
        return Err(Bad {
            at: close + 2,
            expected: "the system call's number and \")\"",
        });
    };
    let name_at = skip_blanks(line, paren + 1);
    let name_end = line[name_at..]
        .iter()
        .position(|&b| b == b' ' || b == b'(')
        .map_or(line.len(), |n| name_at + n);
    let name = &line[name_at..name_end];
    let Some(code) = name
        .strip_prefix(b"sys_")
        .and_then(|n| CALL_NAMES.iter().position(|c| c.as_bytes() == n))
    else {
        return Ok(Line::Skip);
    };
    // `code` indexes CALL_NAMES, five entries.
    let code = code as u8;
    let mut j = skip_blanks(line, name_end);
    if line.get(j) != Some(&b'(') {
        return Err(Bad {
            at: j,
            expected: "\"(\" and the call's arguments",
        });
    }
    j = skip_blanks(line, j + 1);
    let mut args = [0u64; 6];
    let mut count = 0;
    let mut arg_at = [0usize; 6];
    while line.get(j) != Some(&b')') {
        if count == args.len() {
            return Err(Bad {
                at: j,
                expected: "\")\" after at most 6 arguments",
            });
        }
        if count > 0 {
            if line.get(j) != Some(&b',') {
                return Err(Bad {
                    at: j,
                    expected: "\",\" or \")\" after an argument",
                });
            }
            j = skip_blanks(line, j + 1);
        }
        arg_at[count] = j;
        let (v, k) = number(line, j)?;
        args[count] = v;
        count += 1;
        j = skip_blanks(line, k);
    }
    let want = AddressCall::arity(code).unwrap_or_default();
    // mremap's fifth argument is printed only with MREMAP_FIXED.
    let fewest = if code == 4 { want - 1 } else { want };
    if count < fewest || count > want {
        return Err(Bad {
            at: j,
            expected: match code {
                0 => "brk's 1 argument",
                1 => "mmap's 6 arguments",
                2 => "munmap's 2 arguments",
                3 => "mprotect's 3 arguments",
                _ => "mremap's 4 or 5 arguments",
            },
        });
    }
    let call = AddressCall::from_args(code, args).map_err(|arg| Bad {
        at: arg.map_or(name_at, |a| arg_at[a]),
        expected: "a value that fits the argument (32 bits for prot, flags and fd)",
    })?;
    let Some(arrow) = find(line, j + 1, b"-->") else {
        return Err(Bad {
            at: line.len(),
            expected: "\"-->\" and the call's result",
        });
    };
    let mut r = skip_blanks(line, arrow + 3);
    if line.get(r) == Some(&b'[') {
        r = match find(line, r, b"]") {
            Some(b) => skip_blanks(line, b + 1),
            None => line.len(),
        };
    }
    let rest = &line[r..];
    let failed = if rest.starts_with(b"Success(") {
        false
    } else if rest.starts_with(b"Failure(") {
        true
    } else {
        return Err(Bad {
            at: r,
            expected: "Success(HEX) or Failure(HEX) (these calls complete at once)",
        });
    };
    let (value, k) = number(line, r + b"Success(".len())?;
    if line.get(k) != Some(&b')') {
        return Err(Bad {
            at: k,
            expected: "\")\" after the result",
        });
    }
    end_of_line(line, k + 1, false)?;
    let result = if failed {
        Err(i32::try_from(value).map_err(|_| Bad {
            at: r + b"Failure(".len(),
            expected: "an errno below 2^31",
        })?)
    } else {
        Ok(value)
    };
    Ok(Line::Sys(Syscall { call, result }))
}

impl LineFormat for Addr {
    const CALL_MARK: Option<&'static [u8]> = None;

    #[inline]
    fn parse(line: &[u8]) -> Result<Line, Bad> {
        let i = skip_blanks(line, 0);
        if i == line.len() || line[i] == b'#' {
            return Ok(Line::Skip);
        }
        let (addr, j) = if line[i..].starts_with(b"0x") || line[i..].starts_with(b"0X") {
            hex(line, i + 2, "hexadecimal digits after 0x")?
        } else {
            decimal(
                line,
                i,
                u64::MAX,
                "an address (hex with 0x, or decimal)",
                "an address of at most 64 bits",
            )?
        };
        let mut k = skip_blanks(line, j);
        if line.get(k) == Some(&b',') {
            k = skip_blanks(line, k + 1);
        } else if k == j && k < line.len() && line[k] != b'#' {
            // Digits followed directly by something else: a bad address.
            return Err(Bad {
                at: i,
                expected: "an address (hex with 0x, or decimal)",
            });
        }
        let kind = match line.get(k) {
            Some(b'R' | b'r') => AccessKind::Read,
            Some(b'W' | b'w') => AccessKind::Write,
            None | Some(b'#') => return Ok(Line::One(MemRef::read(addr, 1))),
            Some(_) => {
                return Err(Bad {
                    at: k,
                    expected: "R or W",
                })
            }
        };
        end_of_line(line, k + 1, true)?;
        Ok(Line::One(MemRef {
            addr,
            size: 1,
            kind,
            value: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Lackey-like lines: mostly canonical, with every way of missing the
    /// canonical form (other blanks, 0 or 17 digits, long or zero sizes,
    /// `\r`, trailing text, other letters) mixed in.
    fn lackey_like_line() -> impl Strategy<Value = Vec<u8>> {
        let head = prop_oneof![
            Just("I  "),
            Just(" L "),
            Just(" S "),
            Just(" M "),
            Just("I "),
            Just("  L "),
            Just(" L\t"),
            Just(" X "),
            Just("SB "),
        ];
        let digits = prop_oneof![
            "[0-9a-f]{1,16}",
            "[0-9A-F]{8}",
            Just(String::new()),
            "[0-9a-f]{17}",
            "0x[0-9a-f]{4}",
        ];
        let size = prop_oneof![
            "[1-9][0-9]{0,2}",
            "0",
            "0[0-9]",
            "[0-9]{9,11}",
            Just(String::new())
        ];
        let tail = prop_oneof![
            8 => Just("\n"),
            1 => Just("\r\n"),
            1 => Just(" \n"),
            1 => Just("x\n"),
            1 => Just(""),
        ];
        (head, digits, prop::bool::weighted(0.95), size, tail).prop_map(
            |(head, digits, comma, size, tail)| {
                let comma = if comma { "," } else { ";" };
                format!("{head}{digits}{comma}{size}{tail}").into_bytes()
            },
        )
    }

    proptest! {
        /// The fast path answers only where the general parser agrees:
        /// same access, same modify, and the line's whole length.
        #[test]
        fn canonical_lackey_lines_parse_as_the_general_parser_does(
            line in lackey_like_line(),
            padding in 0..40usize,
        ) {
            let mut buf = line.clone();
            buf.extend(std::iter::repeat_n(b'I', padding));
            let Some((r, modify, used)) = Lackey::parse_canonical(&buf) else {
                return Ok(());
            };
            prop_assert_eq!(buf.get(used - 1), Some(&b'\n'));
            let general = Lackey::parse(&buf[..used - 1]);
            match general {
                Ok(Line::One(g)) => prop_assert!(!modify && g == r, "{:?}", g),
                Ok(Line::Two(a, b)) => prop_assert!(
                    modify && a == r && b == MemRef { kind: AccessKind::Write, ..r },
                    "{:?} {:?}", a, b
                ),
                _ => prop_assert!(false, "general parser disagrees on {:?}", String::from_utf8_lossy(&line)),
            }
        }
    }

    /// Reading ahead in batches changes nothing: a trace longer than
    /// several batches, with modify lines (two accesses) at batch edges,
    /// non-canonical lines and a bad line mixed in, reads as line-by-line
    /// parsing says, and the bad line's error names its own line.
    #[test]
    fn reading_ahead_keeps_order_and_line_numbers() {
        let mut text = String::new();
        let mut want = Vec::new();
        let (mut bad_line, mut before_bad) = (0, 0);
        for i in 0..(3 * READ_AHEAD as u64 + 17) {
            let line = match i % 7 {
                0 => format!(" M {:x},8", 0x1000 + i),
                3 => format!("  L {:x},4 ", 0x2000 + i),
                _ => format!("I  {:x},3", 0x3000 + i),
            };
            if i == 2 * READ_AHEAD as u64 + 5 {
                text.push_str(" Q 10,1\n");
                bad_line = i + 1;
                before_bad = want.len();
                continue;
            }
            match Lackey::parse(line.as_bytes()) {
                Ok(Line::One(r)) => want.push(r),
                Ok(Line::Two(a, b)) => want.extend([a, b]),
                _ => panic!("{line}"),
            }
            text.push_str(&line);
            text.push('\n');
        }
        let opts = ReadOptions::default();
        let mut reader = LackeyReader::new(text.as_bytes(), "t", opts);
        let got: Vec<MemRef> = reader.by_ref().map_while(Result::ok).collect();
        assert_eq!(got, want[..before_bad]);
        let err = LackeyReader::new(text.as_bytes(), "t", opts)
            .find_map(Result::err)
            .unwrap();
        assert_eq!(err.line(), Some(bad_line));
        let skipping = ReadOptions {
            skip_bad_lines: true,
            ..opts
        };
        let mut reader = LackeyReader::new(text.as_bytes(), "t", skipping);
        let all: Vec<MemRef> = reader.by_ref().map(Result::unwrap).collect();
        assert_eq!(all, want);
        assert_eq!(reader.skipped(), 1);
    }

    /// The fast path takes the commonest lines, and leaves a line that
    /// does not fit its window whole to the general way.
    #[test]
    fn canonical_lines_take_the_fast_path() {
        let pad = |s: &str| format!("{s}{}", " ".repeat(CANONICAL_WINDOW));
        let fast = |s: &str| Lackey::parse_canonical(pad(s).as_bytes());
        assert_eq!(
            fast("I  0401ab70,3\n"),
            Some((MemRef::fetch(0x0401ab70, 3), false, 14))
        );
        assert_eq!(
            fast(" M 1fff000740,8\n"),
            Some((MemRef::read(0x1fff000740, 8), true, 16))
        );
        assert_eq!(
            fast(" S ffffffffffffffff,123456789\n"),
            Some((MemRef::write(u64::MAX, 123_456_789), false, 30))
        );
        assert_eq!(fast(" L 10,1234567890\n"), None);
        assert_eq!(fast(" L 10,8\r\n"), None);
        assert_eq!(Lackey::parse_canonical(b"I  0401ab70,3\n"), None);
    }

    /// Read a chunk at a time, a lackey trace gives the ops `next_op`
    /// gives, in order: canonical lines in batches, modify lines (a load
    /// then a store) read the general way, system calls between slices,
    /// and the error of a bad line after the accesses before it.
    #[test]
    fn chunks_give_what_next_op_gives() {
        let mut text = String::from("==1== Lackey\n");
        for i in 0..700u64 {
            match i % 97 {
                0 => text.push_str(&format!(" M  {:x},4\n", 0x5000 + i)),
                3 => text.push_str(&format!(" M {:x},2\n", 0x5000 + i)),
                1 => text.push_str(&format!(" L  {:x},8\n", 0x6000 + i)),
                2 => text.push_str(&format!(
                    "SYSCALL[1,1]({i}) sys_brk ( 0x0 ) --> Success(0x{:x})\n",
                    0x40_0000 + i
                )),
                _ => text.push_str(&format!("I  {:x},3\n", 0x40_1000 + i)),
            }
        }
        text.push_str(" L zz,8\nI  10,1\n");
        let opts = ReadOptions::default();
        let mut by_op = LackeyReader::new(text.as_bytes(), "t", opts);
        let want: Vec<Result<Op, String>> = std::iter::from_fn(|| by_op.next_op())
            .map(|op| op.map_err(|e| e.to_string()))
            .collect();
        let got: Vec<Result<Op, String>> =
            crate::chunk::ops_of(LackeyReader::new(text.as_bytes(), "t", opts))
                .into_iter()
                .map(|op| op.map_err(|e| e.to_string()))
                .collect();
        assert!(
            want.iter()
                .filter(|op| matches!(op, Ok(Op::Syscall(_))))
                .count()
                == 8
        );
        assert!(want
            .last()
            .is_some_and(|op| op.as_ref().is_err_and(|e| e.contains("t:702:"))));
        assert_eq!(got, want);
    }

    #[test]
    fn lackey_lines() {
        let one = |s: &str| match Lackey::parse(s.as_bytes()) {
            Ok(Line::One(r)) => r,
            _ => panic!("{s}"),
        };
        assert_eq!(one("I  0401ab70,3"), MemRef::fetch(0x0401ab70, 3));
        assert_eq!(one(" L 7ff000398,8"), MemRef::read(0x7ff000398, 8));
        assert_eq!(one(" S 7ff000398,4"), MemRef::write(0x7ff000398, 4));
        assert!(matches!(Lackey::parse(b"SB 04000000"), Ok(Line::Skip)));
        assert!(matches!(Lackey::parse(b"==123== hi"), Ok(Line::Skip)));
        assert!(matches!(
            Lackey::parse(b" M 10,2"),
            Ok(Line::Two(a, b)) if a == MemRef::read(16, 2) && b == MemRef::write(16, 2)
        ));
    }

    #[test]
    fn addr_lines() {
        let one = |s: &str| match Addr::parse(s.as_bytes()) {
            Ok(Line::One(r)) => r,
            _ => panic!("{s}"),
        };
        assert_eq!(one("0x1000"), MemRef::read(0x1000, 1));
        assert_eq!(one("4096 W"), MemRef::write(4096, 1));
        assert_eq!(one("4096,w # store"), MemRef::write(4096, 1));
        assert_eq!(one("  0XfF\tr"), MemRef::read(255, 1));
        assert_eq!(one("18446744073709551615"), MemRef::read(u64::MAX, 1));
        assert!(matches!(Addr::parse(b"  # note"), Ok(Line::Skip)));
    }
}
