//! A script's errors as the user sees them: `FILE:LINE:COLUMN: message`,
//! where the position is the innermost one Rhai knows (the failing
//! `assert` inside a child's body, not the `fork` that ran the body) and
//! the message is the script's own (an `assert`'s text) or Rhai's.

use rhai::{EvalAltResult, ParseError, Position};
use std::fmt;

/// Why a script did not run to its end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScriptError {
    /// The script could not be read.
    Unreadable {
        /// The file.
        file: String,
        /// What the operating system said.
        message: String,
    },
    /// A syntax error, a runtime error, a failed assertion or a limit hit,
    /// at a place in the script.
    At {
        /// The file (or the name the source was given).
        file: String,
        /// 1-based line (0 when Rhai knows no position).
        line: usize,
        /// 1-based column (0 when Rhai knows no position).
        column: usize,
        /// What went wrong.
        message: String,
    },
    /// The machine could not start the script's first process.
    Machine(String),
}

impl ScriptError {
    /// A syntax error found while compiling `file`.
    pub(crate) fn parse(file: &str, e: &ParseError) -> ScriptError {
        at(file, e.1, e.0.to_string())
    }

    /// A runtime error from running `file`: the innermost error of a chain
    /// of function calls, with its own position when it has one.
    pub(crate) fn runtime(file: &str, e: &EvalAltResult) -> ScriptError {
        let mut inner = e;
        let mut pos = e.position();
        while let EvalAltResult::ErrorInFunctionCall(_, _, next, _)
        | EvalAltResult::ErrorInModule(_, next, _) = inner
        {
            inner = next;
            if !inner.position().is_none() {
                pos = inner.position();
            }
        }
        let message = match inner {
            // The script's own message (assert, throw), without Rhai's
            // "Runtime error: " prefix.
            EvalAltResult::ErrorRuntime(value, _) => value.to_string(),
            // Rhai's message ends with the position, which the error
            // gives in front instead.
            other => {
                let text = other.to_string();
                let place = format!(" ({})", other.position());
                text.strip_suffix(&place).unwrap_or(&text).to_string()
            }
        };
        at(file, pos, message)
    }
}

/// `message` at `pos` of `file`.
pub(crate) fn at(file: &str, pos: Position, message: String) -> ScriptError {
    ScriptError::At {
        file: file.to_string(),
        line: pos.line().unwrap_or(0),
        column: pos.position().unwrap_or(0),
        message,
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScriptError::Unreadable { file, message } => {
                write!(f, "{file}: cannot read the script: {message}")
            }
            // Rhai knows no position for some errors (a limit hit inside
            // an index assignment): the file alone, not a made-up 0:0.
            ScriptError::At {
                file,
                line: 0,
                message,
                ..
            } => write!(f, "{file}: {message}"),
            ScriptError::At {
                file,
                line,
                column,
                message,
            } => write!(f, "{file}:{line}:{column}: {message}"),
            ScriptError::Machine(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for ScriptError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error without a position read `map.rhai:0:0: Too many
    /// operations`.
    #[test]
    fn an_error_without_a_position_names_the_file_alone() {
        let e = at("map.rhai", Position::NONE, "Too many operations".into());
        assert_eq!(e.to_string(), "map.rhai: Too many operations");
        let e = at(
            "map.rhai",
            Position::new(3, 7),
            "Too many operations".into(),
        );
        assert_eq!(e.to_string(), "map.rhai:3:7: Too many operations");
    }
}
