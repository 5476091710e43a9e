//! [`Input`]: the one reusable byte buffer every trace reader decodes from,
//! refilled in large blocks so the per-record path is a bounds check and a
//! slice, and so format detection can peek at the first block. A trace
//! file is instead mapped whole ([`MappedFile`]): its buffer is the file.
//! [`CountingRead`] counts what a decompressor reads of a compressed file,
//! so an input knows how far through the file it is.

use super::mapped::MappedFile;
use crate::chunk::fraction_of;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Bytes read from the source per refill, and the buffer's starting size.
const BLOCK: usize = 256 * 1024;
/// The longest text line accepted; longer means the input is not text.
pub(crate) const MAX_LINE: usize = 1 << 20;

/// A line found by [`Input::next_line`].
pub(crate) enum NextLine {
    /// The line's bytes are `buf[start..end]`, without the line ending.
    Line { start: usize, end: usize },
    /// No more input.
    Eof,
    /// A line longer than [`MAX_LINE`]; it has been skipped.
    TooLong,
}

/// A byte source with its own buffer.
pub(crate) struct Input<R> {
    src: R,
    /// The bytes read so far, unless the source is `mapped`.
    buf: Vec<u8>,
    /// The whole source, when it is a file mapped into memory.
    mapped: Option<MappedFile>,
    pos: usize,
    end: usize,
    eof: bool,
    /// Offset in the (decompressed) stream of `buf[0]`.
    base: u64,
    /// Where `consume` next gives decoded bytes of `mapped` back
    /// (`usize::MAX`: never, or not mapped).
    release_at: usize,
    /// For a compressed file, what of it the decompressor has read.
    /// Boxed: the decoding loops never read it, and inline it moved the
    /// fields they do read (a two-core lackey run took 1.05 of the time
    /// with it inline, 1.00 boxed; instruction counts equal).
    compressed: Option<Box<FileRead>>,
}

/// How much of a file of `length` bytes a [`CountingRead`] has read.
#[derive(Debug)]
pub(crate) struct FileRead {
    read: Arc<AtomicU64>,
    length: u64,
}

/// A source that counts the bytes read from it ([`FileRead`]): under a
/// decompressor, whose output has no known length, where its input has.
pub(crate) struct CountingRead<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R> CountingRead<R> {
    /// `inner`, a file of `length` bytes, counted as it is read.
    pub(crate) fn new(inner: R, length: u64) -> (CountingRead<R>, FileRead) {
        let read = Arc::new(AtomicU64::new(0));
        let counted = FileRead {
            read: read.clone(),
            length,
        };
        (CountingRead { inner, read }, counted)
    }
}

impl<R: Read> Read for CountingRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        // The reading thread is the one that asks: no ordering needed.
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: Read> Input<R> {
    pub(crate) fn new(src: R) -> Input<R> {
        Input {
            src,
            buf: vec![0; BLOCK],
            mapped: None,
            pos: 0,
            end: 0,
            eof: false,
            base: 0,
            release_at: usize::MAX,
            compressed: None,
        }
    }

    /// An input decompressed from `src`, a file whose reading `read`
    /// counts.
    pub(crate) fn decompressed(src: R, read: FileRead) -> Input<R> {
        Input {
            compressed: Some(Box::new(read)),
            ..Input::new(src)
        }
    }

    /// An input whose bytes are all of `mapped`; `src` is never read.
    pub(crate) fn mapped(src: R, mapped: MappedFile) -> Input<R> {
        Input {
            src,
            buf: Vec::new(),
            pos: 0,
            end: mapped.bytes().len(),
            eof: true,
            base: 0,
            release_at: mapped.next_release(),
            mapped: Some(mapped),
            compressed: None,
        }
    }

    /// How much of its file the input has read, from 0 to 1; `None` for a
    /// stream of unknown length (standard input, a pipe).
    pub(crate) fn fraction_read(&self) -> Option<f64> {
        match (&self.mapped, &self.compressed) {
            (Some(m), _) => Some(fraction_of(self.pos as u64, m.bytes().len() as u64)),
            (None, Some(c)) => Some(fraction_of(c.read.load(Ordering::Relaxed), c.length)),
            (None, None) => None,
        }
    }

    /// Whether no byte of a file read in place starts `needle`; `None`
    /// for a stream, which cannot be searched before it is read.
    pub(crate) fn lacks(&mut self, needle: &[u8]) -> Option<bool> {
        self.mapped.as_mut().map(|mapped| mapped.lacks(needle))
    }

    /// Whether the bytes are the file's, mapped in place (not read through
    /// a decompressor or a pipe).
    pub(crate) fn in_place(&self) -> bool {
        self.mapped.is_some()
    }

    /// The buffer: the mapped file, or the bytes read.
    #[inline]
    fn bytes(&self) -> &[u8] {
        match &self.mapped {
            Some(m) => m.bytes(),
            None => &self.buf,
        }
    }

    /// The buffered, unconsumed bytes.
    #[inline]
    pub(crate) fn available(&self) -> &[u8] {
        &self.bytes()[self.pos..self.end]
    }

    /// Marks `n` available bytes as used.
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        self.pos += n;
        if self.pos >= self.release_at {
            self.release_consumed();
        }
    }

    /// Gives the mapped bytes consumed so far back to the kernel.
    #[cold]
    fn release_consumed(&mut self) {
        if let Some(m) = &mut self.mapped {
            m.release_before(self.pos);
            self.release_at = m.next_release();
        }
    }

    /// Stream offset of the first available byte.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// The buffer, for [`NextLine::Line`] ranges.
    #[inline]
    pub(crate) fn buf(&self) -> &[u8] {
        self.bytes()
    }

    /// Reads until at least `want` bytes (at most the buffer's size) are
    /// available or the source ends.
    #[cold]
    pub(crate) fn fill(&mut self, want: usize) -> io::Result<()> {
        if self.mapped.is_some() {
            // All of it is there already.
            return Ok(());
        }
        if self.pos > 0 {
            // Only a partial record or line is left; moving it is cheap.
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
        }
        while !self.eof && self.end - self.pos < want && self.end < self.buf.len() {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The next line, ending at `\n` (a `\r` before it is dropped) or at
    /// the end of input.
    pub(crate) fn next_line(&mut self) -> io::Result<NextLine> {
        let mut searched = 0;
        loop {
            let avail = &self.bytes()[self.pos + searched..self.end];
            if let Some(i) = find_newline(avail) {
                let start = self.pos;
                let mut end = self.pos + searched + i;
                self.pos = end + 1;
                if end - start >= MAX_LINE {
                    // Found whole only because the buffer is large (a
                    // mapped file): still too long.
                    return Ok(NextLine::TooLong);
                }
                if end > start && self.bytes()[end - 1] == b'\r' {
                    end -= 1;
                }
                return Ok(NextLine::Line { start, end });
            }
            searched = self.end - self.pos;
            if self.eof {
                if searched == 0 {
                    return Ok(NextLine::Eof);
                }
                let start = self.pos;
                self.pos = self.end;
                if searched >= MAX_LINE {
                    return Ok(NextLine::TooLong);
                }
                return Ok(NextLine::Line {
                    start,
                    end: self.end,
                });
            }
            if searched >= MAX_LINE {
                self.skip_rest_of_line()?;
                return Ok(NextLine::TooLong);
            }
            if self.pos == 0 && self.end == self.buf.len() {
                // A long line: grow (rare, bounded by MAX_LINE).
                self.buf.resize(self.buf.len() * 2, 0);
            }
            self.fill(searched + 1)?;
        }
    }

    #[cold]
    fn skip_rest_of_line(&mut self) -> io::Result<()> {
        loop {
            if let Some(i) = self.available().iter().position(|&b| b == b'\n') {
                self.pos += i + 1;
                return Ok(());
            }
            self.pos = self.end;
            if self.eof {
                return Ok(());
            }
            self.fill(1)?;
        }
    }
}

/// Index of the first `\n` in `s`, eight bytes at a time: XOR makes the
/// newline bytes zero, and the classic has-zero-byte test (Mycroft;
/// Hacker's Delight §6.1) flags them, the lowest flag being the first.
/// Lines are short, so this beats a byte loop several times over.
#[inline]
fn find_newline(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut chunks = s.chunks_exact(8);
    let mut at = 0;
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ (ONES * u64::from(b'\n'));
        let found = x.wrapping_sub(ONES) & !x & HIGHS;
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = chunks.remainder();
    tail.iter().position(|&b| b == b'\n').map(|i| at + i)
}

#[cfg(test)]
mod tests {
    use super::find_newline;

    #[test]
    fn finds_the_first_newline_anywhere() {
        for len in 0..40 {
            for nl in 0..len {
                let mut s = vec![b'a'; len];
                s[nl] = b'\n';
                if nl + 3 < len {
                    s[nl + 3] = b'\n';
                }
                assert_eq!(find_newline(&s), Some(nl));
            }
            assert_eq!(find_newline(&vec![0x8a; len]), None);
        }
    }
}
