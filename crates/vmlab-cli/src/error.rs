//! The command line's one error type: a message that already names the
//! argument, flag or file position at fault.

use std::fmt;

/// A user-facing error; `main` prints it and exits with status 2.
#[derive(Debug)]
pub struct CliError(pub String);

impl CliError {
    /// An error about the argument or flag `what`.
    pub fn arg(what: &str, message: impl fmt::Display) -> CliError {
        CliError(format!("{what}: {message}"))
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
