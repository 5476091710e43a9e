//! Where command output goes: files written whole or not at all (a
//! temporary file beside the target, renamed into place, so no reader and
//! no failed run ever leaves half a file), and standard output that
//! tolerates a reader who stopped reading (`vmlab run ... | head`).

use crate::error::CliError;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// A temporary path beside `path` that keeps its extension (the bitmap
/// backend picks its encoder from it) and is hidden meanwhile.
pub fn temp_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "out".to_string(), |n| n.to_string_lossy().into_owned());
    let ext = path
        .extension()
        .map_or_else(String::new, |e| format!(".{}", e.to_string_lossy()));
    path.with_file_name(format!(".{name}.{}.tmp{ext}", std::process::id()))
}

/// Moves the finished `temp` onto `path`, or removes it and says why not.
pub fn commit(temp: &Path, path: &Path) -> Result<(), CliError> {
    std::fs::rename(temp, path).map_err(|e| {
        let _ = std::fs::remove_file(temp);
        CliError(format!("{}: cannot write: {e}", path.display()))
    })
}

/// Writes `bytes` to `path` whole: to a temporary file beside it, then
/// renamed over it, so no reader ever sees half a file.
pub fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let temp = temp_beside(path);
    std::fs::write(&temp, bytes).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        CliError(format!("{}: cannot write: {e}", path.display()))
    })?;
    commit(&temp, path)
}

/// Writes `text` to standard output; a closed pipe is not an error.
pub fn print_out(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError(format!("cannot write the report: {e}")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_file_writes_leave_no_temporary_behind() {
        let dir = std::env::temp_dir().join(format!("vmlab-table-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
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
        std::fs::remove_dir_all(dir).unwrap();
    }
}
