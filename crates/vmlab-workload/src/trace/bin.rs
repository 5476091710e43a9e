//! vmlab's compact binary trace format: [`BinWriter`] writes it,
//! [`BinReader`] reads it at memory speed (a fixed-size record decoded from
//! the reader's buffer; no parsing, no allocation).
//!
//! Layout, all integers little-endian:
//!
//! ```text
//! header, 16 bytes:
//!   0  [u8; 8]  magic  89 56 4D 54 0D 0A 1A 0A  ("\x89VMT\r\n\x1a\n")
//!   8  u16      version: 2, or 1 for the same without system calls
//!               (`BinWriter::accesses_only`, what `vmlab generate`
//!               writes: a reader knows before the first record that no
//!               call will come)
//!  10  u16      header length in bytes, 16 (later versions may append
//!               fields; a reader skips what it does not know)
//!  12  u32      reserved, 0
//! access record, 16 bytes, repeated to the end of the stream:
//!   0  u64      address
//!   8  u32      size in bytes (at least 1)
//!  12  u8       kind: 0 read, 1 write, 2 instruction fetch
//!  13  u8       flags: bit 0 = an 8-byte value follows; other bits 0
//!  14  u16      reserved, 0
//!  16  u64      value (only when flags bit 0 is set)
//! system call record (version 2), 64 bytes, in order with the accesses:
//!   0  u64      result: the value returned, or the errno when flags bit 1
//!               is set
//!   8  u32      reserved, 0
//!  12  u8       kind: 3 system call
//!  13  u8       flags: bit 1 = the call failed; other bits 0
//!  14  u8       call: 0 brk, 1 mmap, 2 munmap, 3 mprotect, 4 mremap
//!  15  u8       reserved, 0
//!  16  [u64; 6] arguments in Linux's order, unused ones 0 (mmap:
//!               addr, len, prot, flags, fd sign-extended, offset; mremap:
//!               old_addr, old_len, new_len, flags, new_addr)
//! ```
//!
//! The magic follows PNG's: a high-bit byte catches 7-bit channels, and
//! the CR LF and LF catch newline translation. Unknown kinds, flags, calls
//! or a newer version are errors, not guesses (a system call record in a
//! version 1 file is an unknown kind). Compress the whole file with zstd
//! or gzip for storage; the readers undo that transparently.

use super::input::Input;
use super::TraceError;
use crate::chunk::{Chunk, ChunkedOps, BATCH_ACCESSES};
use crate::op::{MemRef, Op};
use crate::syscall::{AddressCall, Syscall};
use std::io::{self, BufWriter, Read, Write};
use std::sync::Arc;
use vmlab_hw::AccessKind;

/// The first 8 bytes of every vmlab-bin trace.
pub const MAGIC: [u8; 8] = *b"\x89VMT\r\n\x1a\n";
/// The format version this module writes; it reads this one and 1.
pub const VERSION: u16 = 2;
/// The first version with system call records.
const SYSCALL_VERSION: u16 = 2;
const HEADER_LEN: usize = 16;
const RECORD_LEN: usize = 16;
const VALUE_LEN: usize = 8;
const FLAG_VALUE: u8 = 1;
const KIND_SYSCALL: u8 = 3;
const FLAG_FAILED: u8 = 2;
const SYSCALL_LEN: usize = 64;

fn kind_code(kind: AccessKind) -> u8 {
    match kind {
        AccessKind::Read => 0,
        AccessKind::Write => 1,
        AccessKind::Fetch => 2,
    }
}

/// Writes vmlab-bin records to `W`, buffered.
pub struct BinWriter<W: Write> {
    out: BufWriter<W>,
    /// Whether the header promised accesses alone (version 1).
    accesses_only: bool,
}

impl<W: Write> std::fmt::Debug for BinWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinWriter").finish_non_exhaustive()
    }
}

impl<W: Write> BinWriter<W> {
    /// Starts a trace on `out` by writing the header.
    pub fn new(out: W) -> io::Result<BinWriter<W>> {
        BinWriter::with_version(out, VERSION)
    }

    /// Starts a trace of accesses alone (a generator's) on `out`: a
    /// version 1 file, which has no system calls, so a reader knows before
    /// the first record that none will come (the full model then takes its
    /// lean engine). [`BinWriter::write_syscall`] is refused.
    pub fn accesses_only(out: W) -> io::Result<BinWriter<W>> {
        BinWriter::with_version(out, 1)
    }

    fn with_version(out: W, version: u16) -> io::Result<BinWriter<W>> {
        let mut out = BufWriter::with_capacity(256 * 1024, out);
        let mut header = [0u8; HEADER_LEN];
        header[..8].copy_from_slice(&MAGIC);
        header[8..10].copy_from_slice(&version.to_le_bytes());
        header[10..12].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
        out.write_all(&header)?;
        Ok(BinWriter {
            out,
            accesses_only: version < SYSCALL_VERSION,
        })
    }

    /// Appends one access.
    #[inline]
    pub fn write(&mut self, r: &MemRef) -> io::Result<()> {
        let mut rec = [0u8; RECORD_LEN + VALUE_LEN];
        rec[..8].copy_from_slice(&r.addr.to_le_bytes());
        rec[8..12].copy_from_slice(&r.size.to_le_bytes());
        rec[12] = kind_code(r.kind);
        let len = match r.value {
            Some(v) => {
                rec[13] = FLAG_VALUE;
                rec[16..24].copy_from_slice(&v.to_le_bytes());
                RECORD_LEN + VALUE_LEN
            }
            None => RECORD_LEN,
        };
        self.out.write_all(&rec[..len])
    }

    /// Appends one system call (refused in a trace of accesses alone).
    pub fn write_syscall(&mut self, call: &Syscall) -> io::Result<()> {
        if self.accesses_only {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a trace of accesses alone (vmlab-bin version 1) has no system calls",
            ));
        }
        let mut rec = [0u8; SYSCALL_LEN];
        let (result, failed) = match call.result {
            Ok(v) => (v, false),
            // An errno is positive; kept as its 64-bit two's complement
            // when a hand-made record has a negative one.
            Err(errno) => (i64::from(errno) as u64, true),
        };
        rec[..8].copy_from_slice(&result.to_le_bytes());
        rec[12] = KIND_SYSCALL;
        rec[13] = if failed { FLAG_FAILED } else { 0 };
        rec[14] = call.call.code();
        for (i, a) in call.call.args().iter().enumerate() {
            rec[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        self.out.write_all(&rec)
    }

    /// Appends an access or a system call.
    pub fn write_op(&mut self, op: &Op) -> io::Result<()> {
        match op {
            Op::Access(r) => self.write(r),
            Op::Syscall(c) => self.write_syscall(c),
        }
    }

    /// Flushes the buffer and returns the underlying writer (for a
    /// compressor, call its own finish next).
    pub fn finish(self) -> io::Result<W> {
        self.out
            .into_inner()
            .map_err(io::IntoInnerError::into_error)
    }
}

/// Reads vmlab-bin records from an uncompressed source `R`.
pub struct BinReader<R> {
    input: Input<R>,
    name: Arc<str>,
    header_checked: bool,
    /// The file's version, once the header is checked.
    version: u16,
    /// What checking the header early ([`ChunkedOps::accesses_only`])
    /// found wrong, given at the first read.
    header_error: Option<TraceError>,
    /// The last system call decoded (a `brk(0)` before the first).
    call: Syscall,
    done: bool,
    /// The accesses of the chunk given last ([`ChunkedOps`]).
    batch: Vec<MemRef>,
}

impl<R> std::fmt::Debug for BinReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinReader")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<R: Read> BinReader<R> {
    /// A reader of `src`, which error messages call `name`. The header is
    /// checked on the first call to `next`.
    pub fn new(src: R, name: impl Into<Arc<str>>) -> BinReader<R> {
        BinReader::from_input(Input::new(src), name.into())
    }

    /// Whether the file is read in place (mapped, not decompressed).
    pub(crate) fn reads_in_place(&self) -> bool {
        self.input.in_place()
    }

    pub(crate) fn from_input(input: Input<R>, name: Arc<str>) -> BinReader<R> {
        BinReader {
            input,
            name,
            header_checked: false,
            version: 0,
            header_error: None,
            call: Syscall {
                call: AddressCall::Brk { addr: 0 },
                result: Ok(0),
            },
            done: false,
            batch: Vec::with_capacity(BATCH_ACCESSES),
        }
    }

    fn fail(&mut self, at: u64, expected: &'static str, found: String) -> TraceError {
        self.done = true;
        TraceError::at_byte(&self.name, at, expected, found)
    }

    #[cold]
    fn check_header(&mut self) -> Result<(), TraceError> {
        self.header_checked = true;
        self.input
            .fill(HEADER_LEN)
            .map_err(|e| TraceError::io(&self.name, e))?;
        let h = self.input.available();
        if h.len() < 8 || h[..8] != MAGIC {
            let found = format!("{:02x?}", &h[..h.len().min(8)]);
            return Err(self.fail(0, "the vmlab-bin magic 89 56 4d 54 0d 0a 1a 0a", found));
        }
        if h.len() < HEADER_LEN {
            let found = format!("{} bytes", h.len());
            return Err(self.fail(0, "a 16-byte header", found));
        }
        let version = u16::from_le_bytes([h[8], h[9]]);
        let header_len = usize::from(u16::from_le_bytes([h[10], h[11]]));
        if version == 0 || version > VERSION {
            return Err(self.fail(8, "format version 1 or 2", format!("version {version}")));
        }
        self.version = version;
        if header_len < HEADER_LEN {
            let found = header_len.to_string();
            return Err(self.fail(10, "a header length of at least 16", found));
        }
        self.input.consume(HEADER_LEN);
        // Skip header fields a later version may have added.
        let mut extra = header_len - HEADER_LEN;
        while extra > 0 {
            self.input
                .fill(extra)
                .map_err(|e| TraceError::io(&self.name, e))?;
            let n = self.input.available().len().min(extra);
            if n == 0 {
                return Err(self.fail(
                    HEADER_LEN as u64,
                    "the rest of the header",
                    "end of file".into(),
                ));
            }
            self.input.consume(n);
            extra -= n;
        }
        Ok(())
    }

    /// Refills so that a whole record, or the end, is in the buffer.
    #[cold]
    fn refill(&mut self, want: usize) -> Result<(), TraceError> {
        self.input
            .fill(want)
            .map_err(|e| TraceError::io(&self.name, e))
    }

    #[cold]
    fn bad_record(&mut self, rec: [u8; RECORD_LEN]) -> TraceError {
        let at = self.input.offset();
        if rec[12] > 2 {
            let expected = if self.version >= SYSCALL_VERSION {
                "a kind of 0, 1, 2 or 3"
            } else {
                "a kind of 0, 1 or 2 (version 1 has no system calls)"
            };
            self.fail(at + 12, expected, rec[12].to_string())
        } else if rec[13] & !FLAG_VALUE != 0 {
            self.fail(at + 13, "flags of 0 or 1", rec[13].to_string())
        } else {
            let found = u16::from_le_bytes([rec[14], rec[15]]).to_string();
            self.fail(at + 14, "reserved bytes of 0", found)
        }
    }
}

impl<R: Read> BinReader<R> {
    /// A record that is not an access: a system call (version 2), or bad.
    #[cold]
    #[inline(never)]
    fn other_kind(&mut self, rec: [u8; RECORD_LEN]) -> Result<Step, TraceError> {
        if rec[12] != KIND_SYSCALL || self.version < SYSCALL_VERSION {
            return Err(self.bad_record(rec));
        }
        self.call = self.syscall()?;
        Ok(Step::Call)
    }

    /// Decodes the system call record at the front of the buffer.
    #[cold]
    fn syscall(&mut self) -> Result<Syscall, TraceError> {
        self.refill(SYSCALL_LEN)?;
        let at = self.input.offset();
        let avail = self.input.available();
        let Some(rec) = avail.get(..SYSCALL_LEN) else {
            let found = format!("{} trailing bytes", avail.len());
            return Err(self.fail(at, "a whole 64-byte system call record", found));
        };
        let mut copy = [0u8; SYSCALL_LEN];
        copy.copy_from_slice(rec);
        let rec = copy;
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&rec[i..i + 8]);
            u64::from_le_bytes(b)
        };
        let result = word(0);
        let (flags, code, reserved) = (
            rec[13],
            rec[14],
            [rec[8], rec[9], rec[10], rec[11], rec[15]],
        );
        let mut args = [0u64; 6];
        for (i, a) in args.iter_mut().enumerate() {
            *a = word(16 + 8 * i);
        }
        if flags & !FLAG_FAILED != 0 {
            return Err(self.fail(at + 13, "system call flags of 0 or 2", flags.to_string()));
        }
        if reserved != [0; 5] {
            return Err(self.fail(at + 8, "reserved bytes of 0", format!("{reserved:02x?}")));
        }
        let call = match AddressCall::from_args(code, args) {
            Ok(call) => call,
            Err(None) => {
                let found = code.to_string();
                return Err(self.fail(
                    at + 14,
                    "a call of 0 to 4 (brk, mmap, munmap, mprotect, mremap)",
                    found,
                ));
            }
            Err(Some(i)) => {
                let found = format!("{:#x}", args[i]);
                return Err(self.fail(
                    16 + at + 8 * i as u64,
                    "an argument that fits 32 bits",
                    found,
                ));
            }
        };
        let result = if flags & FLAG_FAILED != 0 {
            match i32::try_from(result as i64) {
                Ok(errno) => Err(errno),
                Err(_) => {
                    return Err(self.fail(at, "an errno that fits 32 bits", format!("{result:#x}")))
                }
            }
        } else {
            Ok(result)
        };
        self.input.consume(SYSCALL_LEN);
        Ok(Syscall { call, result })
    }
}

/// The common record: a plain load, store or fetch of at least one byte,
/// with no value. Bytes 8..16 read as one word are the size, then the
/// kind, and zero flags and reserved bytes above; anything else is
/// `None`, for the general decoder.
#[inline(always)]
fn plain_access(rec: &[u8; RECORD_LEN]) -> Option<MemRef> {
    let (addr, meta) = rec.split_at(8);
    let addr = u64::from_le_bytes(addr.try_into().ok()?);
    let meta = u64::from_le_bytes(meta.try_into().ok()?);
    let kind = match meta >> 32 {
        0 => AccessKind::Read,
        1 => AccessKind::Write,
        2 => AccessKind::Fetch,
        _ => return None,
    };
    let size = meta as u32;
    (size != 0).then_some(MemRef {
        addr,
        size,
        kind,
        value: None,
    })
}

/// Plain access records are decoded straight from the buffer, up to
/// [`BATCH_ACCESSES`] at a time; any other record (with a value, a system
/// call, a bad one) and the buffer's end go the one-record way.
impl<R: Read> ChunkedOps for BinReader<R> {
    #[inline]
    fn read_chunk(&mut self) -> Option<Result<Chunk<'_>, TraceError>> {
        self.batch.clear();
        if self.header_checked && !self.done {
            let available = self.input.available();
            // At most a batch of records, so the loop's only test of its
            // end is the slice's.
            let records = &available[..available.len().min(BATCH_ACCESSES * RECORD_LEN)];
            for rec in records.chunks_exact(RECORD_LEN) {
                let Some(r) = rec.first_chunk().and_then(plain_access) else {
                    break;
                };
                self.batch.push(r);
            }
            self.input.consume(self.batch.len() * RECORD_LEN);
        }
        if self.batch.is_empty() {
            match self.step_any()? {
                Ok(Step::Access(r)) => self.batch.push(r),
                Ok(Step::Call) => return Some(Ok(Chunk::Syscall(self.call))),
                Err(e) => return Some(Err(e)),
            }
        }
        Some(Ok(Chunk::Accesses(&self.batch)))
    }

    /// A version 1 file has no system calls. The header is checked now if
    /// it was not; what is wrong with it is the first read's error.
    fn fraction_read(&self) -> Option<f64> {
        self.input.fraction_read()
    }

    fn accesses_only(&mut self) -> bool {
        if !self.header_checked {
            if let Err(e) = self.check_header() {
                self.done = true;
                self.header_error = Some(e);
            }
        }
        self.version == 1
    }
}

/// What the record at the front decoded to. A system call waits in
/// [`BinReader::call`], so the access path returns a value no bigger than
/// a [`MemRef`] (the 64-byte call made binary reading a third slower).
enum Step {
    Access(MemRef),
    Call,
}

/// The accesses alone; system calls are skipped.
impl<R: Read> Iterator for BinReader<R> {
    type Item = Result<MemRef, TraceError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            return match self.step()? {
                Ok(Step::Access(r)) => Some(Ok(r)),
                Ok(Step::Call) => continue,
                Err(e) => Some(Err(e)),
            };
        }
    }
}

impl<R: Read> BinReader<R> {
    /// The next access or system call, in the trace's order.
    #[inline(always)]
    pub fn next_op(&mut self) -> Option<Result<Op, TraceError>> {
        Some(match self.step()? {
            Ok(Step::Access(r)) => Ok(Op::Access(r)),
            Ok(Step::Call) => Ok(Op::Syscall(self.call)),
            Err(e) => Err(e),
        })
    }

    #[inline(always)]
    fn step(&mut self) -> Option<Result<Step, TraceError>> {
        // The common record first: a plain load, store or fetch with no
        // value, whole in the buffer. Bytes 8..16 read as one word are the
        // size, then the kind, and zero flags and reserved bytes above.
        if self.header_checked && !self.done {
            if let Some(r) = self.input.available().first_chunk().and_then(plain_access) {
                self.input.consume(RECORD_LEN);
                return Some(Ok(Step::Access(r)));
            }
        }
        self.step_any()
    }

    /// Any record (or the end, or an error), refilling the buffer as needed.
    #[inline(never)]
    fn step_any(&mut self) -> Option<Result<Step, TraceError>> {
        if let Some(e) = self.header_error.take() {
            return Some(Err(e));
        }
        if self.done {
            return None;
        }
        if !self.header_checked {
            if let Err(e) = self.check_header() {
                return Some(Err(e));
            }
        }
        if self.input.available().len() < RECORD_LEN + VALUE_LEN {
            if let Err(e) = self.refill(RECORD_LEN + VALUE_LEN) {
                self.done = true;
                return Some(Err(e));
            }
            let left = self.input.available().len();
            if left == 0 {
                self.done = true;
                return None;
            }
            if left < RECORD_LEN {
                let at = self.input.offset();
                let found = format!("{left} trailing bytes");
                return Some(Err(self.fail(at, "a whole 16-byte record", found)));
            }
        }
        let avail = self.input.available();
        let rec: [u8; RECORD_LEN] = avail[..RECORD_LEN].try_into().ok()?;
        let addr = u64::from_le_bytes(rec[..8].try_into().ok()?);
        let size = u32::from_le_bytes(rec[8..12].try_into().ok()?);
        let kind = match rec[12] {
            0 => AccessKind::Read,
            1 => AccessKind::Write,
            2 => AccessKind::Fetch,
            // Off the access path: system calls are rare.
            _ => return Some(self.other_kind(rec)),
        };
        if rec[13] & !FLAG_VALUE != 0 || rec[14] != 0 || rec[15] != 0 {
            return Some(Err(self.bad_record(rec)));
        }
        if size == 0 {
            let at = self.input.offset() + 8;
            return Some(Err(self.fail(at, "a size of at least 1", "0".to_owned())));
        }
        let value = if rec[13] & FLAG_VALUE != 0 {
            match avail.get(RECORD_LEN..RECORD_LEN + VALUE_LEN) {
                Some(v) => Some(u64::from_le_bytes(v.try_into().ok()?)),
                None => {
                    let at = self.input.offset() + RECORD_LEN as u64;
                    let found = format!("{} trailing bytes", avail.len() - RECORD_LEN);
                    return Some(Err(self.fail(at, "the record's 8-byte value", found)));
                }
            }
        } else {
            None
        };
        self.input
            .consume(RECORD_LEN + if value.is_some() { VALUE_LEN } else { 0 });
        Some(Ok(Step::Access(MemRef {
            addr,
            size,
            kind,
            value,
        })))
    }
}
