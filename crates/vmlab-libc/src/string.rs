//! memcpy, memset, memcmp, strlen, strcpy and strcmp on simulated memory.
//!
//! The bytes move through the MMU a page piece at a time, and each
//! routine is counted as a word-at-a-time implementation would access
//! memory ([`crate::words`]): memcpy of `n` bytes loads the source's words
//! and stores the destination's; strlen loads the words up to the one
//! holding the terminating NUL; the comparisons load both strings' words
//! up to the first difference. (glibc's versions use wider vector
//! registers; a word is the unit vmlab's cost model prices.)

use crate::{shown, words, Libc, LibcError};
use vmlab_kernel::explain::CallArg;
use vmlab_kernel::frames::Pid;

/// How far string routines read ahead in one piece, within a page.
const STRING_PIECE: u64 = 64;

/// The most bytes the bulk routines (memcpy, memset, memcmp) hold on the
/// host at once: a range of any length moves through one such buffer,
/// never through a host copy of its own size.
const BULK_PIECE: usize = 1 << 16;

impl Libc {
    /// memcpy(3): copies `n` bytes from `src` to `dst` (which must not
    /// overlap); returns `dst`.
    pub fn memcpy(&mut self, pid: Pid, dst: u64, src: u64, n: u64) -> Result<u64, LibcError> {
        self.library_function(
            pid,
            "memcpy",
            || {
                vec![
                    CallArg::addr("dest", dst),
                    CallArg::addr("src", src),
                    CallArg::num("n", n),
                ]
            },
            shown::pointer,
            |libc| {
                libc.image(pid)?;
                libc.copy(pid, dst, src, n)?;
                Ok(dst)
            },
        )
    }

    /// memset(3): sets `n` bytes at `dst` to `byte`; returns `dst`.
    pub fn memset(&mut self, pid: Pid, dst: u64, byte: u8, n: u64) -> Result<u64, LibcError> {
        self.library_function(
            pid,
            "memset",
            || {
                vec![
                    CallArg::addr("s", dst),
                    CallArg::num("c", byte),
                    CallArg::num("n", n),
                ]
            },
            shown::pointer,
            |libc| {
                libc.image(pid)?;
                libc.fill(pid, dst, byte, n)?;
                Ok(dst)
            },
        )
    }

    /// memcmp(3): the sign of the first differing byte of `a` and `b` as
    /// unsigned chars (0 when the `n` bytes are equal).
    pub fn memcmp(&mut self, pid: Pid, a: u64, b: u64, n: u64) -> Result<i32, LibcError> {
        self.library_function(
            pid,
            "memcmp",
            || {
                vec![
                    CallArg::addr("s1", a),
                    CallArg::addr("s2", b),
                    CallArg::num("n", n),
                ]
            },
            shown::value,
            |libc| {
                libc.image(pid)?;
                let piece = BULK_PIECE.min(to_len(n)?);
                let (mut x, mut y) = (vec![0; piece], vec![0; piece]);
                let mut at = 0;
                while at < n {
                    let len = (n - at).min(piece as u64) as usize;
                    libc.kernel
                        .read_user(pid, a.wrapping_add(at), &mut x[..len])?;
                    libc.kernel
                        .read_user(pid, b.wrapping_add(at), &mut y[..len])?;
                    if let Some(i) = (0..len).find(|&i| x[i] != y[i]) {
                        let looked = at + i as u64 + 1;
                        libc.meter.user_accesses += words(a, looked) + words(b, looked);
                        return Ok(sign(x[i], y[i]));
                    }
                    at += len as u64;
                }
                libc.meter.user_accesses += words(a, n) + words(b, n);
                Ok(0)
            },
        )
    }

    /// strlen(3): the bytes before the NUL at or after `s`.
    pub fn strlen(&mut self, pid: Pid, s: u64) -> Result<u64, LibcError> {
        self.library_function(
            pid,
            "strlen",
            || vec![CallArg::addr("s", s)],
            shown::count,
            |libc| {
                libc.image(pid)?;
                libc.string_length(pid, s)
            },
        )
    }

    /// strcpy(3): copies the string at `src`, its NUL included, to `dst`;
    /// returns `dst`.
    pub fn strcpy(&mut self, pid: Pid, dst: u64, src: u64) -> Result<u64, LibcError> {
        self.library_function(
            pid,
            "strcpy",
            || vec![CallArg::addr("dst", dst), CallArg::addr("src", src)],
            shown::pointer,
            |libc| {
                libc.image(pid)?;
                let n = libc.string_length(pid, src)?;
                libc.copy(pid, dst, src, n + 1)?;
                Ok(dst)
            },
        )
    }

    /// strcmp(3): the sign of the first differing byte of the strings at
    /// `a` and `b` as unsigned chars (0 when they are equal).
    pub fn strcmp(&mut self, pid: Pid, a: u64, b: u64) -> Result<i32, LibcError> {
        self.library_function(
            pid,
            "strcmp",
            || vec![CallArg::addr("s1", a), CallArg::addr("s2", b)],
            shown::value,
            |libc| {
                libc.image(pid)?;
                let (mut x, mut y) = ([0u8; STRING_PIECE as usize], [0u8; STRING_PIECE as usize]);
                let mut at = 0;
                loop {
                    // A piece that stays within both strings' current pages.
                    let n = piece(libc.kernel.page_bytes(), a + at)
                        .min(piece(libc.kernel.page_bytes(), b + at));
                    let n = n as usize;
                    libc.kernel.read_user(pid, a + at, &mut x[..n])?;
                    libc.kernel.read_user(pid, b + at, &mut y[..n])?;
                    let end = (0..n).find(|&i| x[i] != y[i] || x[i] == 0);
                    if let Some(i) = end {
                        let looked = at + i as u64 + 1;
                        libc.meter.user_accesses += words(a, looked) + words(b, looked);
                        return Ok(sign(x[i], y[i]));
                    }
                    at += n as u64;
                }
            },
        )
    }

    /// Copies `n` bytes from `src` to `dst`, counted as memcpy's accesses.
    /// The bytes go through a buffer of [`BULK_PIECE`] bytes, so the host
    /// holds no copy of a huge range. Overlapping ranges copy as memmove
    /// would (a piece is read before it is written, last piece first when
    /// `dst` lies above `src`): memcpy's result there is undefined in C,
    /// and this keeps it what it was when the whole range was read first.
    pub(crate) fn copy(&mut self, pid: Pid, dst: u64, src: u64, n: u64) -> Result<(), LibcError> {
        self.meter.user_accesses += words(src, n) + words(dst, n);
        let mut bytes = vec![0; BULK_PIECE.min(to_len(n)?)];
        let backwards = dst > src && dst - src < n;
        let mut done = 0;
        while done < n {
            let len = (n - done).min(BULK_PIECE as u64);
            let at = if backwards { n - done - len } else { done };
            let piece = &mut bytes[..len as usize];
            self.kernel.read_user(pid, src.wrapping_add(at), piece)?;
            self.kernel.write_user(pid, dst.wrapping_add(at), piece)?;
            done += len;
        }
        Ok(())
    }

    /// Sets `n` bytes at `dst` to `byte`, counted as memset's stores,
    /// [`BULK_PIECE`] bytes at a time.
    pub(crate) fn fill(&mut self, pid: Pid, dst: u64, byte: u8, n: u64) -> Result<(), LibcError> {
        self.meter.user_accesses += words(dst, n);
        let bytes = vec![byte; BULK_PIECE.min(to_len(n)?)];
        let mut done = 0;
        while done < n {
            let len = (n - done).min(BULK_PIECE as u64);
            self.kernel
                .write_user(pid, dst.wrapping_add(done), &bytes[..len as usize])?;
            done += len;
        }
        Ok(())
    }

    /// The length of the string at `s`, counted as strlen's loads.
    pub(crate) fn string_length(&mut self, pid: Pid, s: u64) -> Result<u64, LibcError> {
        let mut buf = [0u8; STRING_PIECE as usize];
        let mut at = s;
        loop {
            let n = piece(self.kernel.page_bytes(), at) as usize;
            self.kernel.read_user(pid, at, &mut buf[..n])?;
            if let Some(i) = buf[..n].iter().position(|&c| c == 0) {
                let len = at + i as u64 - s;
                self.meter.user_accesses += words(s, len + 1);
                return Ok(len);
            }
            at += n as u64;
        }
    }

    /// The string at `s`, without its NUL, counted as strlen and memcpy
    /// into registers.
    pub(crate) fn read_string(&mut self, pid: Pid, s: u64) -> Result<Vec<u8>, LibcError> {
        let len = self.string_length(pid, s)?;
        let mut bytes = vec![0; to_len(len)?];
        self.read_mem(pid, s, &mut bytes)?;
        Ok(bytes)
    }
}

/// The bytes from `at` to the next multiple of [`STRING_PIECE`], which
/// never crosses a page (so reading it faults only if `at` does).
fn piece(page: u64, at: u64) -> u64 {
    let step = STRING_PIECE.min(page);
    step - at % step
}

/// `n` as a host length (ENOMEM when it cannot be one).
fn to_len(n: u64) -> Result<usize, LibcError> {
    usize::try_from(n).map_err(|_| LibcError::Errno(vmlab_kernel::Errno::Enomem))
}

/// C's comparison result for the bytes `x` and `y`.
fn sign(x: u8, y: u8) -> i32 {
    i32::from(x) - i32::from(y)
}
