//! Buffered stdio: `FILE` streams in simulated memory, their buffers
//! allocated with the simulated malloc, and printf.
//!
//! A `FILE` is eight words: flags, descriptor, buffer start and end, the
//! write position, the read position and end of read data, and the next
//! stream in the list `exit` flushes (glibc's `_IO_list_all`). `stdin`,
//! `stdout` and `stderr` are in the library's data; `fopen` mallocs its
//! `FILE`, as glibc does.
//!
//! Buffering follows glibc. A stream gets its buffer at its first I/O
//! (glibc's `_IO_file_doallocate`): the library asks the kernel what the
//! descriptor is (fstat), asks isatty (its ioctl) only of a character
//! device that is not a pseudo-terminal, and mallocs `st_blksize` bytes:
//! 4096 for a file (fully buffered: written when full, by fflush, fclose
//! or exit) and 1024 for the terminal, which is line buffered: a piece of
//! output is written through its last newline at once, so each printf of
//! a line is one write. `stderr` is unbuffered: each call's output is
//! gathered in a scratch buffer and written by one write at the end of
//! the call (glibc's `buffered_vfprintf`). An fwrite to a fully buffered
//! stream fills the buffer, and what does not fit goes out as the full
//! buffer and then whole buffers straight from the caller's memory; an
//! fread of at least a buffer's worth reads whole buffers straight into
//! it.
//!
//! `exit` flushes every stream, `_exit` flushes nothing; fork copies the
//! buffers with the rest of memory, so output not flushed before a fork
//! is written by both processes. execve discards them.
//!
//! The format string of printf is the program's literal, in its text,
//! which vmlab has no image of: reading it costs no access. The arguments
//! are values ([`Arg`]); `%s` reads its string from simulated memory.
//! Left out: field widths, precision and flags in formats, setvbuf,
//! ungetc, fseek and input from the terminal.

use crate::{data, shown, Libc, LibcError, WORD};
use vmlab_kernel::abi::{O_APPEND, O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, SEEK_CUR};
use vmlab_kernel::explain::{CallArg, VARIADIC};
use vmlab_kernel::frames::Pid;
use vmlab_kernel::Errno;

/// The bytes of a `FILE`.
pub const FILE_BYTES: u64 = 8 * WORD;
/// A stream's buffer when fstat fails (glibc's `BUFSIZ`); otherwise the
/// buffer is the descriptor's `st_blksize`.
pub const BUFSIZ: u64 = 8192;
/// Linux's pseudo-terminal majors (`DEV_TTY_LOW_MAJOR` to
/// `DEV_TTY_HIGH_MAJOR` in glibc's `device-nrs.h`): glibc knows those for
/// terminals from fstat alone, and asks isatty of other character devices.
const PTY_MAJORS: std::ops::RangeInclusive<u32> = 136..=143;

// The words of a FILE.
const FLAGS: u64 = 0;
const FD: u64 = 8;
const BUF_BASE: u64 = 16;
const BUF_END: u64 = 24;
const WRITE_PTR: u64 = 32;
const READ_PTR: u64 = 40;
const READ_END: u64 = 48;
const CHAIN: u64 = 56;

// Flags.
const READ: u64 = 1;
const WRITE: u64 = 2;
const UNBUFFERED: u64 = 4;
const LINE_BUF: u64 = 8;
const EOF: u64 = 16;
const ERROR: u64 = 32;
const HAS_BUF: u64 = 64;
/// A standard stream, in the library's data rather than malloc'd.
const STATIC: u64 = 128;

// The stream list and the standard streams, in the library's data.
const LIST: u64 = data::STDIO;
const STDIN: u64 = data::STDIO + 8;
const STDOUT: u64 = STDIN + FILE_BYTES;
const STDERR: u64 = STDOUT + FILE_BYTES;

/// A printf argument, as the C caller would pass it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// A signed integer (`%d`, `%i`, `%ld`; `%u`, `%x` reinterpret it).
    Int(i64),
    /// An unsigned integer (`%u`, `%x`, `%zu`).
    Uint(u64),
    /// A character (`%c`).
    Char(u8),
    /// A pointer to a NUL-terminated string in simulated memory (`%s`;
    /// 0 prints `(null)` as glibc does).
    Str(u64),
    /// A pointer (`%p`; 0 prints `(nil)` as glibc does).
    Ptr(u64),
}

/// fopen's mode string as open flags and stream flags (EINVAL for one
/// that does not start with r, w or a).
fn parse_mode(mode: &str) -> Result<(u32, u64), LibcError> {
    let plus = mode.contains('+');
    let (mut flags, stream) = match (mode.as_bytes().first(), plus) {
        (Some(b'r'), false) => (O_RDONLY, READ),
        (Some(b'r'), true) => (O_RDWR, READ | WRITE),
        (Some(b'w'), false) => (O_WRONLY | O_CREAT | O_TRUNC, WRITE),
        (Some(b'w'), true) => (O_RDWR | O_CREAT | O_TRUNC, READ | WRITE),
        (Some(b'a'), false) => (O_WRONLY | O_CREAT | O_APPEND, WRITE),
        (Some(b'a'), true) => (O_RDWR | O_CREAT | O_APPEND, READ | WRITE),
        _ => return Err(LibcError::Errno(Errno::Einval)),
    };
    if mode.contains('x') {
        flags |= O_EXCL;
    }
    Ok((flags, stream))
}

impl Libc {
    /// Sets up `stdin`, `stdout` (buffering decided at first use) and the
    /// unbuffered `stderr`, listed as glibc lists them.
    pub(crate) fn init_stdio(&mut self, pid: Pid, base: u64) -> Result<(), LibcError> {
        let streams = [
            (STDIN, 0, READ, 0),
            (STDOUT, 1, WRITE, base + STDIN),
            (STDERR, 2, WRITE | UNBUFFERED, base + STDOUT),
        ];
        for (at, fd, flags, next) in streams {
            self.st(pid, base + at + FLAGS, flags | STATIC)?;
            self.st(pid, base + at + FD, fd)?;
            self.st(pid, base + at + CHAIN, next)?;
        }
        self.st(pid, base + LIST, base + STDERR)
    }

    /// `stdin` of `pid`.
    pub fn stdin(&self, pid: Pid) -> Result<u64, LibcError> {
        Ok(self.image(pid)? + STDIN)
    }

    /// `stdout` of `pid`.
    pub fn stdout(&self, pid: Pid) -> Result<u64, LibcError> {
        Ok(self.image(pid)? + STDOUT)
    }

    /// `stderr` of `pid`.
    pub fn stderr(&self, pid: Pid) -> Result<u64, LibcError> {
        Ok(self.image(pid)? + STDERR)
    }

    /// fopen(3) with mode `r`, `w`, `a`, each optionally with `+`, `b`
    /// (ignored) and `x` (O_EXCL).
    pub fn fopen(&mut self, pid: Pid, path: &str, mode: &str) -> Result<u64, LibcError> {
        self.library_function(
            pid,
            "fopen",
            || vec![CallArg::text("pathname", path), CallArg::text("mode", mode)],
            shown::pointer,
            |libc| {
                let base = libc.image(pid)?;
                let (flags, stream) = parse_mode(mode)?;
                let fd = libc.sys_open(pid, path, flags)?;
                let fp = match libc.alloc(pid, base, FILE_BYTES) {
                    Ok(fp) => fp,
                    Err(e) => {
                        libc.sys_close(pid, fd)?;
                        return Err(e);
                    }
                };
                libc.st(pid, fp + FLAGS, stream)?;
                libc.st(pid, fp + FD, fd as u64)?;
                for field in [BUF_BASE, BUF_END, WRITE_PTR, READ_PTR, READ_END] {
                    libc.st(pid, fp + field, 0)?;
                }
                let first = libc.ld(pid, base + LIST)?;
                libc.st(pid, fp + CHAIN, first)?;
                libc.st(pid, base + LIST, fp)?;
                Ok(fp)
            },
        )
    }

    /// fclose(3): flushes, closes the descriptor, frees the buffer and
    /// (for a stream fopen made) the `FILE`. Reports the flush's or the
    /// close's error, after doing all of it.
    pub fn fclose(&mut self, pid: Pid, fp: u64) -> Result<(), LibcError> {
        self.library_function(
            pid,
            "fclose",
            || vec![CallArg::addr("stream", fp)],
            shown::value,
            |libc| {
                let base = libc.image(pid)?;
                let flags = libc.stream_flags(pid, fp)?;
                let flushed = libc.flush(pid, fp);
                let fd = libc.ld(pid, fp + FD)? as i32;
                let closed = libc.sys_close(pid, fd);
                if flags & HAS_BUF != 0 && flags & UNBUFFERED == 0 {
                    let buf = libc.ld(pid, fp + BUF_BASE)?;
                    libc.release(pid, base, buf)?;
                }
                // Off the list.
                let mut link = base + LIST;
                loop {
                    let next = libc.ld(pid, link)?;
                    if next == fp {
                        let after = libc.ld(pid, fp + CHAIN)?;
                        libc.st(pid, link, after)?;
                        break;
                    }
                    if next == 0 {
                        break;
                    }
                    link = next + CHAIN;
                }
                if flags & STATIC != 0 {
                    libc.st(pid, fp + FLAGS, 0)?;
                } else {
                    libc.release(pid, base, fp)?;
                }
                flushed.and(closed)
            },
        )
    }

    /// fflush(3) of `fp`, or of every stream when `fp` is 0.
    pub fn fflush(&mut self, pid: Pid, fp: u64) -> Result<(), LibcError> {
        self.library_function(
            pid,
            "fflush",
            || vec![CallArg::addr("stream", fp)],
            shown::value,
            |libc| {
                let base = libc.image(pid)?;
                if fp == 0 {
                    return libc.flush_all(pid, base);
                }
                libc.stream_flags(pid, fp)?;
                libc.flush(pid, fp)
            },
        )
    }

    /// fwrite(3): `count` items of `size` bytes from `ptr`; returns the
    /// items written.
    pub fn fwrite(
        &mut self,
        pid: Pid,
        ptr: u64,
        size: u64,
        count: u64,
        fp: u64,
    ) -> Result<u64, LibcError> {
        self.library_function(
            pid,
            "fwrite",
            || items_args(ptr, size, count, fp),
            shown::count,
            |libc| {
                let Some((base, total)) = libc.items(pid, size, count)? else {
                    return Ok(0);
                };
                libc.begin_write(pid, base, fp)?;
                let flags = libc.ld(pid, fp + FLAGS)?;
                let mut done = 0;
                if flags & (LINE_BUF | UNBUFFERED) == 0 {
                    // glibc's _IO_new_file_xsputn: fill the buffer; if more is
                    // left, write the full buffer, then whole buffers straight
                    // from the caller's memory, and buffer the rest.
                    let (at, end) = (libc.ld(pid, fp + WRITE_PTR)?, libc.ld(pid, fp + BUF_END)?);
                    let first = (end - at).min(total);
                    libc.copy(pid, at, ptr, first)?;
                    libc.st(pid, fp + WRITE_PTR, at + first)?;
                    done = first;
                    let left = total - first;
                    if left > 0 {
                        libc.flush(pid, fp)?;
                        let buffer = end - libc.ld(pid, fp + BUF_BASE)?;
                        let direct = left - left % buffer;
                        let fd = libc.ld(pid, fp + FD)? as i32;
                        libc.write_all(pid, fp, fd, ptr + done, direct)?;
                        done += direct;
                    }
                }
                let mut rest = vec![0; usize::try_from(total - done).map_err(|_| Errno::Enomem)?];
                libc.read_mem(pid, ptr + done, &mut rest)?;
                libc.put(pid, fp, &rest)?;
                libc.end_call(pid, fp)?;
                Ok(count)
            },
        )
    }

    /// fread(3): up to `count` items of `size` bytes into `ptr`; returns
    /// the items read (fewer at the end of the file).
    pub fn fread(
        &mut self,
        pid: Pid,
        ptr: u64,
        size: u64,
        count: u64,
        fp: u64,
    ) -> Result<u64, LibcError> {
        self.library_function(
            pid,
            "fread",
            || items_args(ptr, size, count, fp),
            shown::count,
            |libc| {
                let Some((base, total)) = libc.items(pid, size, count)? else {
                    return Ok(0);
                };
                let flags = libc.stream_flags(pid, fp)?;
                if flags & READ == 0 {
                    libc.mark(pid, fp, ERROR)?;
                    return Err(LibcError::Errno(Errno::Ebadf));
                }
                libc.setup_buffer(pid, base, fp)?;
                libc.flush(pid, fp)?;
                let fd = libc.ld(pid, fp + FD)? as i32;
                let buf = libc.ld(pid, fp + BUF_BASE)?;
                let buffer = libc.ld(pid, fp + BUF_END)? - buf;
                let mut got = 0;
                while got < total {
                    let (at, end) = (libc.ld(pid, fp + READ_PTR)?, libc.ld(pid, fp + READ_END)?);
                    if at < end {
                        let n = (end - at).min(total - got);
                        libc.copy(pid, ptr + got, at, n)?;
                        libc.st(pid, fp + READ_PTR, at + n)?;
                        got += n;
                        continue;
                    }
                    let want = total - got;
                    let direct = want >= buffer;
                    // Whole buffers go straight into the caller's memory.
                    let (into, len) = if direct {
                        (ptr + got, want - want % buffer)
                    } else {
                        (buf, buffer)
                    };
                    let n = match libc.sys_read(pid, fd, into, len) {
                        Ok(n) => n,
                        Err(e) => {
                            libc.mark(pid, fp, ERROR)?;
                            return Err(e);
                        }
                    };
                    if n == 0 {
                        libc.mark(pid, fp, EOF)?;
                        break;
                    }
                    if direct {
                        got += n;
                    } else {
                        libc.st(pid, fp + READ_PTR, buf)?;
                        libc.st(pid, fp + READ_END, buf + n)?;
                    }
                }
                Ok(got / size)
            },
        )
    }

    /// fputs(3): the string at `s`, without its NUL.
    pub fn fputs(&mut self, pid: Pid, s: u64, fp: u64) -> Result<(), LibcError> {
        self.library_function(
            pid,
            "fputs",
            || vec![CallArg::addr("s", s), CallArg::addr("stream", fp)],
            shown::void,
            |libc| {
                let base = libc.image(pid)?;
                let bytes = libc.read_string(pid, s)?;
                libc.begin_write(pid, base, fp)?;
                libc.put(pid, fp, &bytes)?;
                libc.end_call(pid, fp)
            },
        )
    }

    /// fputc(3): one character.
    pub fn fputc(&mut self, pid: Pid, c: u8, fp: u64) -> Result<(), LibcError> {
        self.library_function(
            pid,
            "fputc",
            || vec![CallArg::num("c", c), CallArg::addr("stream", fp)],
            move |_: &()| Some(c.to_string()),
            |libc| {
                let base = libc.image(pid)?;
                libc.begin_write(pid, base, fp)?;
                libc.put(pid, fp, &[c])?;
                libc.end_call(pid, fp)
            },
        )
    }

    /// printf(3) to `stdout`; returns the bytes output.
    pub fn printf(&mut self, pid: Pid, format: &str, args: &[Arg]) -> Result<u64, LibcError> {
        self.library_function(
            pid,
            "printf",
            || printf_args(None, format, args),
            shown::count,
            |libc| {
                let fp = libc.stdout(pid)?;
                libc.vfprintf(pid, fp, format, args)
            },
        )
    }

    /// fprintf(3) to `fp`; returns the bytes output. Conversions: `%d`
    /// `%i` `%u` `%x` `%c` `%s` `%p` `%%`, with `l`, `ll` or `z` for 64
    /// bits (without them an integer is C's 32-bit int).
    pub fn fprintf(
        &mut self,
        pid: Pid,
        fp: u64,
        format: &str,
        args: &[Arg],
    ) -> Result<u64, LibcError> {
        self.library_function(
            pid,
            "fprintf",
            || printf_args(Some(fp), format, args),
            shown::count,
            |libc| libc.vfprintf(pid, fp, format, args),
        )
    }

    /// exit(3): flushes every stream, then ends the process.
    pub fn exit(&mut self, pid: Pid, status: i32) -> Result<(), LibcError> {
        self.library_call(pid, "exit", || vec![CallArg::num("status", status)]);
        let base = self.image(pid)?;
        // As glibc's _IO_cleanup, a stream that fails does not stop exit.
        let _ = self.flush_all(pid, base);
        self.sys_exit(pid, status)
    }

    /// _exit(2): ends the process at once; buffered output is lost.
    pub fn _exit(&mut self, pid: Pid, status: i32) -> Result<(), LibcError> {
        self.library_call(pid, "_exit", || vec![CallArg::num("status", status)]);
        self.image(pid)?;
        self.sys_exit(pid, status)
    }

    /// printf's engine: literal runs and conversions, each one piece of
    /// output.
    fn vfprintf(
        &mut self,
        pid: Pid,
        fp: u64,
        format: &str,
        args: &[Arg],
    ) -> Result<u64, LibcError> {
        let base = self.image(pid)?;
        self.begin_write(pid, base, fp)?;
        let bytes = format.as_bytes();
        let mut args = args.iter();
        let (mut at, mut literal, mut total) = (0, 0, 0u64);
        while at < bytes.len() {
            if bytes[at] != b'%' {
                at += 1;
                continue;
            }
            let spec = at;
            total += self.put_counted(pid, fp, &bytes[literal..at])?;
            at += 1;
            let mut long = false;
            while let Some(b'l' | b'z') = bytes.get(at) {
                long = true;
                at += 1;
            }
            let error = |message: &str| LibcError::Format {
                at: spec,
                message: message.to_owned(),
            };
            let conversion = *bytes.get(at).ok_or_else(|| error("a conversion after %"))?;
            at += 1;
            literal = at;
            if conversion == b'%' {
                total += self.put_counted(pid, fp, b"%")?;
                continue;
            }
            let arg = *args
                .next()
                .ok_or_else(|| error("an argument for this conversion"))?;
            let text = match (conversion, arg) {
                (b'd' | b'i', Arg::Int(v)) => {
                    let v = if long { v } else { i64::from(v as i32) };
                    v.to_string().into_bytes()
                }
                (b'u' | b'x', Arg::Int(_) | Arg::Uint(_)) => {
                    let v = match arg {
                        Arg::Int(v) => v as u64,
                        Arg::Uint(v) => v,
                        _ => 0,
                    };
                    let v = if long { v } else { u64::from(v as u32) };
                    if conversion == b'u' {
                        v.to_string().into_bytes()
                    } else {
                        format!("{v:x}").into_bytes()
                    }
                }
                (b'c', Arg::Char(c)) => vec![c],
                (b'c', Arg::Int(v)) => vec![v as u8],
                (b's', Arg::Str(0)) => b"(null)".to_vec(),
                (b's', Arg::Str(s)) => self.read_string(pid, s)?,
                (b'p', Arg::Ptr(0)) => b"(nil)".to_vec(),
                (b'p', Arg::Ptr(p)) => format!("{p:#x}").into_bytes(),
                (b'd' | b'i' | b'u' | b'x' | b'c' | b's' | b'p', _) => {
                    return Err(error(&format!(
                        "an argument of the type %{} takes, not {arg:?}",
                        conversion as char
                    )))
                }
                _ => {
                    return Err(error(
                        "one of the conversions d i u x c s p % (with l, ll or z)",
                    ))
                }
            };
            total += self.put_counted(pid, fp, &text)?;
        }
        total += self.put_counted(pid, fp, &bytes[literal..])?;
        self.end_call(pid, fp)?;
        Ok(total)
    }

    /// The start of fread or fwrite: the library's data and the bytes of
    /// `count` items of `size`, `None` for none.
    fn items(&mut self, pid: Pid, size: u64, count: u64) -> Result<Option<(u64, u64)>, LibcError> {
        let base = self.image(pid)?;
        let total = size.checked_mul(count).ok_or(Errno::Einval)?;
        Ok((total > 0).then_some((base, total)))
    }

    /// [`Libc::put`], returning the byte count.
    fn put_counted(&mut self, pid: Pid, fp: u64, bytes: &[u8]) -> Result<u64, LibcError> {
        self.put(pid, fp, bytes)?;
        Ok(bytes.len() as u64)
    }

    /// The flags of the open stream `fp` (EBADF for a closed one).
    fn stream_flags(&mut self, pid: Pid, fp: u64) -> Result<u64, LibcError> {
        let flags = self.ld(pid, fp + FLAGS)?;
        if flags & (READ | WRITE) == 0 {
            return Err(LibcError::Errno(Errno::Ebadf));
        }
        Ok(flags)
    }

    /// Sets `flag` on the stream.
    fn mark(&mut self, pid: Pid, fp: u64, flag: u64) -> Result<(), LibcError> {
        let flags = self.ld(pid, fp + FLAGS)?;
        self.st(pid, fp + FLAGS, flags | flag)
    }

    /// Gives the stream its buffer at its first I/O (glibc's
    /// `_IO_file_doallocate`).
    fn setup_buffer(&mut self, pid: Pid, base: u64, fp: u64) -> Result<(), LibcError> {
        let mut flags = self.ld(pid, fp + FLAGS)?;
        if flags & HAS_BUF != 0 {
            return Ok(());
        }
        let (buf, size) = if flags & UNBUFFERED != 0 {
            (base + data::SCRATCH, data::SCRATCH_BYTES)
        } else {
            let fd = self.ld(pid, fp + FD)? as i32;
            // fstat's failure (a closed descriptor) leaves BUFSIZ and full
            // buffering, as isatty's leaves "not a terminal".
            let mut size = BUFSIZ;
            if let Ok(stat) = self.sys_fstat(pid, fd) {
                if stat.char_device
                    && (PTY_MAJORS.contains(&stat.rdev_major)
                        || self.sys_isatty(pid, fd).unwrap_or(false))
                {
                    flags |= LINE_BUF;
                }
                if stat.blksize > 0 {
                    size = u64::from(stat.blksize);
                }
            }
            (self.alloc(pid, base, size)?, size)
        };
        self.st(pid, fp + BUF_BASE, buf)?;
        self.st(pid, fp + BUF_END, buf + size)?;
        for field in [WRITE_PTR, READ_PTR, READ_END] {
            self.st(pid, fp + field, buf)?;
        }
        self.st(pid, fp + FLAGS, flags | HAS_BUF)
    }

    /// Readies `fp` for output: checks it may be written, gives it a
    /// buffer, and drops read-ahead (moving the file offset back over it,
    /// as glibc does when a stream switches from reading to writing).
    fn begin_write(&mut self, pid: Pid, base: u64, fp: u64) -> Result<(), LibcError> {
        let flags = self.stream_flags(pid, fp)?;
        if flags & WRITE == 0 {
            self.mark(pid, fp, ERROR)?;
            return Err(LibcError::Errno(Errno::Ebadf));
        }
        self.setup_buffer(pid, base, fp)?;
        let (at, end) = (self.ld(pid, fp + READ_PTR)?, self.ld(pid, fp + READ_END)?);
        if at < end {
            let fd = self.ld(pid, fp + FD)? as i32;
            self.sys_lseek(pid, fd, -((end - at) as i64), SEEK_CUR)?;
            let buf = self.ld(pid, fp + BUF_BASE)?;
            self.st(pid, fp + READ_PTR, buf)?;
            self.st(pid, fp + READ_END, buf)?;
        }
        Ok(())
    }

    /// One piece of output into the stream's buffer (glibc's
    /// `_IO_new_file_xsputn`): a line-buffered stream writes through the
    /// piece's last newline at once and keeps the rest.
    fn put(&mut self, pid: Pid, fp: u64, bytes: &[u8]) -> Result<(), LibcError> {
        let flags = self.ld(pid, fp + FLAGS)?;
        let newline = bytes.iter().rposition(|&b| b == b'\n');
        match newline {
            Some(last) if flags & LINE_BUF != 0 => {
                self.copy_in(pid, fp, &bytes[..=last])?;
                self.flush(pid, fp)?;
                self.copy_in(pid, fp, &bytes[last + 1..])
            }
            _ => self.copy_in(pid, fp, bytes),
        }
    }

    /// Stores `bytes` into the buffer, writing it out whenever it fills.
    fn copy_in(&mut self, pid: Pid, fp: u64, mut bytes: &[u8]) -> Result<(), LibcError> {
        while !bytes.is_empty() {
            let (at, end) = (self.ld(pid, fp + WRITE_PTR)?, self.ld(pid, fp + BUF_END)?);
            if at == end {
                self.flush(pid, fp)?;
                continue;
            }
            let n = ((end - at) as usize).min(bytes.len());
            self.write_mem(pid, at, &bytes[..n])?;
            self.st(pid, fp + WRITE_PTR, at + n as u64)?;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// The end of an output call: an unbuffered stream writes it now.
    fn end_call(&mut self, pid: Pid, fp: u64) -> Result<(), LibcError> {
        if self.ld(pid, fp + FLAGS)? & UNBUFFERED != 0 {
            self.flush(pid, fp)?;
        }
        Ok(())
    }

    /// Writes the buffered output of `fp` (nothing when there is none).
    fn flush(&mut self, pid: Pid, fp: u64) -> Result<(), LibcError> {
        let buf = self.ld(pid, fp + BUF_BASE)?;
        let at = self.ld(pid, fp + WRITE_PTR)?;
        if at <= buf {
            return Ok(());
        }
        let fd = self.ld(pid, fp + FD)? as i32;
        self.write_all(pid, fp, fd, buf, at - buf)?;
        self.st(pid, fp + WRITE_PTR, buf)
    }

    /// write(2)s until `n` bytes at `addr` are out; marks the stream's
    /// error flag when one fails.
    fn write_all(
        &mut self,
        pid: Pid,
        fp: u64,
        fd: i32,
        addr: u64,
        n: u64,
    ) -> Result<(), LibcError> {
        let mut done = 0;
        while done < n {
            match self.sys_write(pid, fd, addr + done, n - done) {
                Ok(put) => done += put,
                Err(e) => {
                    self.mark(pid, fp, ERROR)?;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Flushes every stream on the list (glibc's `_IO_flush_all`),
    /// returning the first error after trying them all.
    fn flush_all(&mut self, pid: Pid, base: u64) -> Result<(), LibcError> {
        let mut result = Ok(());
        let mut fp = self.ld(pid, base + LIST)?;
        while fp != 0 {
            let flags = self.ld(pid, fp + FLAGS)?;
            if flags & WRITE != 0 && flags & HAS_BUF != 0 {
                let flushed = self.flush(pid, fp);
                result = result.and(flushed);
            }
            fp = self.ld(pid, fp + CHAIN)?;
        }
        result
    }
}

/// fread's and fwrite's arguments for an explanation.
fn items_args(ptr: u64, size: u64, count: u64, fp: u64) -> Vec<CallArg> {
    vec![
        CallArg::addr("ptr", ptr),
        CallArg::num("size", size),
        CallArg::num("nmemb", count),
        CallArg::addr("stream", fp),
    ]
}

/// printf's arguments for an explanation: the stream (fprintf's), the
/// format, then each value as C passed it.
fn printf_args(stream: Option<u64>, format: &str, args: &[Arg]) -> Vec<CallArg> {
    let mut shown: Vec<CallArg> = stream
        .map(|fp| CallArg::addr("stream", fp))
        .into_iter()
        .collect();
    shown.push(CallArg::text("format", format));
    shown.extend(args.iter().map(|&arg| match arg {
        Arg::Int(v) => CallArg::num(VARIADIC, v),
        Arg::Uint(v) => CallArg::num(VARIADIC, v),
        Arg::Char(c) => CallArg::num(VARIADIC, c),
        Arg::Str(p) | Arg::Ptr(p) => CallArg::addr(VARIADIC, p),
    }));
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_map_to_open_flags() {
        assert_eq!(parse_mode("r"), Ok((O_RDONLY, READ)));
        assert_eq!(parse_mode("rb+"), Ok((O_RDWR, READ | WRITE)));
        assert_eq!(parse_mode("w"), Ok((O_WRONLY | O_CREAT | O_TRUNC, WRITE)));
        assert_eq!(
            parse_mode("wx"),
            Ok((O_WRONLY | O_CREAT | O_TRUNC | O_EXCL, WRITE))
        );
        assert_eq!(
            parse_mode("a+"),
            Ok((O_RDWR | O_CREAT | O_APPEND, READ | WRITE))
        );
        assert_eq!(parse_mode("q"), Err(LibcError::Errno(Errno::Einval)));
        assert_eq!(parse_mode(""), Err(LibcError::Errno(Errno::Einval)));
    }
}
