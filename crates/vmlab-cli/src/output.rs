//! Where command output goes. An output file is an [`Output`]:
//!
//! - a regular file, or a path that does not exist yet, is written whole
//!   or not at all: to a temporary file beside it, renamed into place, so
//!   no reader and no failed run ever leaves half a file. A symbolic link
//!   (a chain of them, or one whose target does not exist yet) is followed
//!   first and the rename happens beside the file it ends at, so the link
//!   stays a link and its target gets the content;
//! - anything else that exists (a character device such as `/dev/null`, a
//!   FIFO) cannot be renamed over and is not replaced: it is written in
//!   place, as a stream, write errors reported (`/dev/full`);
//! - `-`, or a path that is this process's standard output or error
//!   (`/dev/stdout` whatever it is: a pipe, a socket, the file the shell
//!   redirected to), is written through that stream, which is open on it
//!   already (a socket cannot be opened again by name, and a redirected
//!   file renamed over would take the rest of the output away from it).
//!
//! Standard output also takes reports, which tolerate a reader who stopped
//! reading (`vmlab run ... | head`).

use crate::error::CliError;
use std::fmt::Display;
use std::fs::{File, Metadata};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The name of standard output where a file name is expected.
const STDOUT: &str = "-";

/// Whether `path` is `-`, standard output.
pub fn is_stdout(path: &Path) -> bool {
    path == Path::new(STDOUT)
}

/// Whether `path`, given to `flag`, is standard output, refusing it beside
/// `--json`: both would go there, one after the other.
pub fn stdout_unless_json(flag: &str, path: Option<&Path>, json: bool) -> Result<bool, CliError> {
    let to_stdout = path.is_some_and(is_stdout);
    if to_stdout && json {
        return Err(CliError::arg(
            flag,
            "- writes to standard output, where --json prints the report: expected a file name",
        ));
    }
    Ok(to_stdout)
}

/// An output being written, buffered. Dropped before [`Output::finish`],
/// it leaves no file behind (see the module doc for where bytes go).
pub struct Output {
    /// The path as given, for messages.
    path: PathBuf,
    sink: Sink,
}

enum Sink {
    /// A temporary file, renamed onto `target` by [`Output::finish`].
    Whole {
        file: BufWriter<File>,
        /// `None` once renamed: nothing left to clean up.
        temp: Option<PathBuf>,
        target: PathBuf,
    },
    /// A stream that is written where it is.
    InPlace(BufWriter<Stream>),
}

/// A stream written in place. Its reader may stop reading (`vmlab generate
/// ... -o - | head -c 100`): what it no longer takes is dropped, not an
/// error, as for reports.
struct Stream(Box<dyn Write>);

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.write(buf) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(buf.len()),
            written => written,
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.0.flush() {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            flushed => flushed,
        }
    }
}

impl Output {
    /// Opens `path` for writing, or says why it cannot be.
    pub fn create(path: &Path) -> Result<Output, CliError> {
        let cannot = |e: io::Error| cannot_write(path, e);
        let sink = if is_stdout(path) {
            Sink::InPlace(BufWriter::new(Stream(Box::new(io::stdout()))))
        } else {
            match std::fs::metadata(path) {
                Ok(meta) => match standard_stream(&meta) {
                    Some(stream) => Sink::InPlace(BufWriter::new(Stream(stream))),
                    None if meta.is_file() => whole(path).map_err(cannot)?,
                    None => {
                        let file = std::fs::OpenOptions::new()
                            .write(true)
                            .open(path)
                            .map_err(cannot)?;
                        Sink::InPlace(BufWriter::new(Stream(Box::new(file))))
                    }
                },
                Err(e) if e.kind() == io::ErrorKind::NotFound => whole(path).map_err(cannot)?,
                Err(e) => return Err(cannot(e)),
            }
        };
        Ok(Output {
            path: path.to_path_buf(),
            sink,
        })
    }

    /// The error for `e` while writing this output, naming its path.
    pub fn cannot(&self, e: impl Display) -> CliError {
        cannot_write(&self.path, e)
    }

    /// Flushes what is buffered and, for a file written whole, moves it
    /// into place (on disk first, so a crash leaves the old file or the
    /// new one, not an empty one).
    pub fn finish(mut self) -> Result<(), CliError> {
        match &mut self.sink {
            Sink::Whole { file, temp, target } => {
                file.flush()
                    .and_then(|()| file.get_ref().sync_all())
                    .map_err(|e| cannot_write(&self.path, e))?;
                // Always there: only this consuming call clears it.
                if let Some(from) = temp.as_ref() {
                    std::fs::rename(from, &*target).map_err(|e| cannot_write(&self.path, e))?;
                }
                *temp = None;
                Ok(())
            }
            Sink::InPlace(stream) => stream.flush().map_err(|e| cannot_write(&self.path, e)),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.sink {
            Sink::Whole { file, .. } => file.write(buf),
            Sink::InPlace(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Whole { file, .. } => file.flush(),
            Sink::InPlace(stream) => stream.flush(),
        }
    }
}

/// An output given up on (an error on the way) leaves no file, and what it
/// still buffers for a stream is not sent either.
impl Drop for Output {
    fn drop(&mut self) {
        match &mut self.sink {
            Sink::Whole { temp, .. } => {
                if let Some(temp) = temp {
                    let _ = std::fs::remove_file(temp);
                }
            }
            Sink::InPlace(stream) => {
                let unsent = BufWriter::with_capacity(0, Stream(Box::new(io::sink())));
                let _ = std::mem::replace(stream, unsent).into_parts();
            }
        }
    }
}

/// A temporary file beside the end of `path`'s links, to be renamed
/// there.
fn whole(path: &Path) -> io::Result<Sink> {
    let target = link_target(path)?;
    let temp = temp_beside(&target);
    let file = File::create(&temp)?;
    Ok(Sink::Whole {
        file: BufWriter::new(file),
        temp: Some(temp),
        target,
    })
}

/// "`path`: cannot write: `e`".
pub fn cannot_write(path: &Path, e: impl Display) -> CliError {
    CliError(format!("{}: cannot write: {e}", path.display()))
}

/// The most symbolic links followed in a row, as Linux's `MAXSYMLINKS`;
/// beyond it the chain is taken for a loop.
const MAX_LINKS: usize = 40;

/// Where the chain of symbolic links from `path` ends (`path` itself if it
/// is no link); the end need not exist yet. A relative link is relative to
/// the directory of the link.
fn link_target(path: &Path) -> io::Result<PathBuf> {
    let mut at = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let next = std::fs::read_link(&at)?;
                at = match at.parent() {
                    Some(dir) => dir.join(next),
                    None => next,
                };
            }
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => return Ok(at),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// A temporary path beside `path` that keeps its extension and is hidden
/// meanwhile.
fn temp_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "out".to_string(), |n| n.to_string_lossy().into_owned());
    let ext = path
        .extension()
        .map_or_else(String::new, |e| format!(".{}", e.to_string_lossy()));
    path.with_file_name(format!(".{name}.{}.tmp{ext}", std::process::id()))
}

/// This process's standard output or error, when the file `meta`
/// describes is the one it is open on.
#[cfg(unix)]
fn standard_stream(meta: &Metadata) -> Option<Box<dyn Write>> {
    use std::os::fd::{AsFd, BorrowedFd};
    use std::os::unix::fs::MetadataExt;
    let is_it = |fd: BorrowedFd<'_>| {
        fd.try_clone_to_owned()
            .and_then(|fd| File::from(fd).metadata())
            .is_ok_and(|m| (m.dev(), m.ino()) == (meta.dev(), meta.ino()))
    };
    if is_it(io::stdout().as_fd()) {
        Some(Box::new(io::stdout()))
    } else if is_it(io::stderr().as_fd()) {
        Some(Box::new(io::stderr()))
    } else {
        None
    }
}

/// Elsewhere a path naming a standard stream is opened like any other.
#[cfg(not(unix))]
fn standard_stream(_: &Metadata) -> Option<Box<dyn Write>> {
    None
}

/// Writes `bytes` to `path` as an [`Output`].
pub fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut out = Output::create(path)?;
    out.write_all(bytes).map_err(|e| out.cannot(e))?;
    out.finish()
}

/// Writes `text` to standard output; a closed pipe is not an error.
pub fn print_out(text: &str) -> Result<(), CliError> {
    let mut out = Stream(Box::new(io::stdout().lock()));
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| CliError(format!("cannot write the report: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vmlab-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn whole_file_writes_leave_no_temporary_behind() {
        let dir = scratch("whole");
        let path = dir.join("out.csv");
        write_whole(&path, b"a,b\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"a,b\n");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        let missing = dir.join("no/such/dir/out.csv");
        assert!(write_whole(&missing, b"x")
            .err()
            .unwrap()
            .0
            .contains("cannot write"));
        // An output dropped unfinished leaves the old file as it was.
        let mut out = Output::create(&path).unwrap();
        out.write_all(b"half").unwrap();
        drop(out);
        assert_eq!(std::fs::read(&path).unwrap(), b"a,b\n");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn symlink_chains_are_followed_relative_to_each_link() {
        use std::os::unix::fs::symlink;
        let dir = scratch("links");
        std::fs::create_dir(dir.join("sub")).unwrap();
        // a -> sub/b -> c (relative to sub/), and c does not exist yet.
        symlink("sub/b", dir.join("a")).unwrap();
        symlink("c", dir.join("sub/b")).unwrap();
        assert_eq!(link_target(&dir.join("a")).unwrap(), dir.join("sub/c"));
        assert_eq!(link_target(&dir.join("new")).unwrap(), dir.join("new"));
        symlink("loop", dir.join("loop")).unwrap();
        assert!(link_target(&dir.join("loop")).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
