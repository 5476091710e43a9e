//! The C library's functions, callable by their C names with C's
//! arguments: malloc, free, calloc, realloc, malloc_usable_size; fopen, fclose, fflush, fread,
//! fwrite, fputs, fputc, printf, fprintf; memcpy, memset, memcmp, strlen,
//! strcpy, strcmp; and the streams `stdin`, `stdout` and `stderr` (each
//! process's own). They run as `vmlab-libc` runs them, as user code of the
//! current process, so the library's accounting counts each call and the
//! system calls it made (`counters().library_calls`, `.system_calls`).
//!
//! Conventions, C's: a pointer is a script integer (NULL is 0); a call
//! that fails returns C's failure value (NULL, -1, `EOF`, 0 items) and
//! sets `errno()`. A misuse glibc aborts on (freeing a pointer malloc did
//! not return) is a script error with glibc's message.
//!
//! printf and fprintf take their arguments after the format, up to six
//! of them, or as one array: `printf("%d of %s\n", n,
//! "pages")` or `printf("%d of %s\n", [n, "pages"])`. An integer goes to
//! `%d %i %u %x %c %p` and, as a pointer to a NUL-terminated string in
//! simulated memory, to `%s`; a script string given to `%s` is a string
//! literal of the program, which (like the format itself) lives in its
//! text and costs no access to read.

use super::bindings::{lock, Shared};
use rhai::{Array, Dynamic, Engine, EvalAltResult, INT};
use vmlab_kernel::frames::Pid;
use vmlab_libc::{Arg, Libc, LibcError};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// C's `EOF`.
const EOF: INT = -1;

/// A script integer as a pointer or size (C converts a negative one to a
/// huge unsigned value, and so does this).
fn unsigned(value: INT) -> u64 {
    value as u64
}

/// Registers the library's functions and streams on `engine`.
pub(crate) fn register(engine: &mut Engine, shared: &Shared) {
    engine.register_global_module(
        {
            let mut m = rhai::Module::new();
            m.set_var("EOF", EOF);
            m.set_var("NULL", 0 as INT);
            m
        }
        .into(),
    );
    register_streams(engine, shared);
    register_malloc(engine, shared);
    register_stdio(engine, shared);
    register_printf(engine, shared);
    register_strings(engine, shared);
}

/// `stdin`, `stdout` and `stderr` read as C's variables, whose value is
/// the current process's own stream.
fn register_streams(engine: &mut Engine, shared: &Shared) {
    type Stream = fn(&Libc, Pid) -> std::result::Result<u64, LibcError>;
    let s = shared.clone();
    // Rhai marks its variable resolver as volatile API (not deprecated);
    // it is the one way to give a name a value that depends on the
    // process reading it.
    #[allow(deprecated)]
    engine.on_var(move |name, _, _| {
        let stream: Stream = match name {
            "stdin" => Libc::stdin,
            "stdout" => Libc::stdout,
            "stderr" => Libc::stderr,
            _ => return Ok(None),
        };
        let session = lock(&s)?;
        let pid = session.current()?;
        let fp = stream(&session.libc, pid).map_err(|e| e.to_string())?;
        Ok(Some((fp as INT).into()))
    });
}

fn register_malloc(engine: &mut Engine, shared: &Shared) {
    let s = shared.clone();
    engine.register_fn("malloc", move |n: INT| -> Result<INT> {
        lock(&s)?.library(0, |c, pid| c.malloc(pid, unsigned(n)).map(|p| p as INT))
    });
    let s = shared.clone();
    engine.register_fn("free", move |ptr: INT| -> Result<()> {
        lock(&s)?.library((), |c, pid| c.free(pid, unsigned(ptr)))
    });
    let s = shared.clone();
    engine.register_fn("malloc_usable_size", move |ptr: INT| -> Result<INT> {
        lock(&s)?.library(0, |c, pid| {
            c.malloc_usable_size(pid, unsigned(ptr)).map(|n| n as INT)
        })
    });
    let s = shared.clone();
    engine.register_fn("calloc", move |n: INT, size: INT| -> Result<INT> {
        lock(&s)?.library(0, |c, pid| {
            c.calloc(pid, unsigned(n), unsigned(size)).map(|p| p as INT)
        })
    });
    let s = shared.clone();
    engine.register_fn("realloc", move |ptr: INT, n: INT| -> Result<INT> {
        lock(&s)?.library(0, |c, pid| {
            c.realloc(pid, unsigned(ptr), unsigned(n)).map(|p| p as INT)
        })
    });
}

fn register_stdio(engine: &mut Engine, shared: &Shared) {
    let s = shared.clone();
    engine.register_fn("fopen", move |path: &str, mode: &str| -> Result<INT> {
        lock(&s)?.library(0, |c, pid| c.fopen(pid, path, mode).map(|fp| fp as INT))
    });
    let s = shared.clone();
    engine.register_fn("fclose", move |fp: INT| -> Result<INT> {
        lock(&s)?.library(EOF, |c, pid| c.fclose(pid, unsigned(fp)).map(|()| 0))
    });
    let s = shared.clone();
    engine.register_fn("fflush", move |fp: INT| -> Result<INT> {
        lock(&s)?.library(EOF, |c, pid| c.fflush(pid, unsigned(fp)).map(|()| 0))
    });
    type Items = fn(&mut Libc, Pid, u64, u64, u64, u64) -> std::result::Result<u64, LibcError>;
    for (name, call) in [("fread", Libc::fread as Items), ("fwrite", Libc::fwrite)] {
        let s = shared.clone();
        engine.register_fn(
            name,
            move |ptr: INT, size: INT, count: INT, fp: INT| -> Result<INT> {
                lock(&s)?.library(0, |c, pid| {
                    call(
                        c,
                        pid,
                        unsigned(ptr),
                        unsigned(size),
                        unsigned(count),
                        unsigned(fp),
                    )
                    .map(|n| n as INT)
                })
            },
        );
    }
    let s = shared.clone();
    engine.register_fn("fputs", move |str_ptr: INT, fp: INT| -> Result<INT> {
        lock(&s)?.library(EOF, |c, pid| {
            c.fputs(pid, unsigned(str_ptr), unsigned(fp)).map(|()| 0)
        })
    });
    let s = shared.clone();
    engine.register_fn("fputc", move |ch: INT, fp: INT| -> Result<INT> {
        // C passes an int and writes it as an unsigned char.
        let byte = ch as u8;
        lock(&s)?.library(EOF, |c, pid| {
            c.fputc(pid, byte, unsigned(fp)).map(|()| INT::from(byte))
        })
    });
}

/// printf's arguments: a lone array is the argument list.
fn spread(mut values: Vec<Dynamic>) -> Vec<Dynamic> {
    if values.len() == 1 && values[0].is_array() {
        if let Some(array) = values.pop().and_then(|v| v.try_cast::<Array>()) {
            return array;
        }
    }
    values
}

/// The format printf receives and its arguments: each script string given
/// to `%s` becomes part of the format (it is a literal, as the format is),
/// every other value an [`Arg`] of the type its conversion takes. Errors
/// name the byte of the script's format.
fn printf_args(format: &str, values: Vec<Dynamic>) -> Result<(String, Vec<Arg>)> {
    let bytes = format.as_bytes();
    let mut out = String::with_capacity(format.len());
    let mut args = Vec::with_capacity(values.len());
    let mut values = values.into_iter();
    let (mut at, mut literal) = (0, 0);
    while at < bytes.len() {
        if bytes[at] != b'%' {
            at += 1;
            continue;
        }
        let spec = at;
        at += 1;
        while let Some(b'l' | b'z') = bytes.get(at) {
            at += 1;
        }
        let error = |message: String| -> Box<EvalAltResult> {
            format!("printf: format byte {spec}: {message}").into()
        };
        let Some(&conversion) = bytes.get(at) else {
            return Err(error("expected a conversion after %".into()));
        };
        at += 1;
        if conversion == b'%' {
            continue;
        }
        if !b"diuxcsp".contains(&conversion) {
            return Err(error(format!(
                "expected one of the conversions d i u x c s p % (with l, ll or z), found {:?}",
                conversion as char
            )));
        }
        let value = values
            .next()
            .ok_or_else(|| error("expected an argument for this conversion".into()))?;
        if value.is_string() && conversion == b's' {
            out.push_str(&format[literal..spec]);
            out.push_str(&value.to_string().replace('%', "%%"));
            literal = at;
            continue;
        }
        let arg = if let Ok(v) = value.as_int() {
            match conversion {
                b's' => Arg::Str(v as u64),
                b'p' => Arg::Ptr(v as u64),
                _ => Arg::Int(v),
            }
        } else if let (Ok(ch), b'c') = (value.as_char(), conversion) {
            Arg::Char(u8::try_from(ch).map_err(|_| error(format!("{ch:?} is not one byte")))?)
        } else {
            return Err(error(format!(
                "%{} takes {}, not a {}",
                conversion as char,
                if conversion == b's' {
                    "a string or a pointer"
                } else {
                    "an integer"
                },
                value.type_name()
            )));
        };
        args.push(arg);
    }
    let left = values.len();
    if left > 0 {
        return Err(
            format!("printf: {left} argument(s) more than the format's conversions").into(),
        );
    }
    out.push_str(&format[literal..]);
    Ok((out, args))
}

/// printf (to `stdout`) or fprintf (to `fp`): the bytes output, or -1.
fn printf(shared: &Shared, fp: Option<INT>, format: &str, values: Vec<Dynamic>) -> Result<INT> {
    let (format, args) = printf_args(format, spread(values))?;
    lock(shared)?.library(-1, |c, pid| {
        let n = match fp {
            Some(fp) => c.fprintf(pid, unsigned(fp), &format, &args)?,
            None => c.printf(pid, &format, &args)?,
        };
        Ok(n as INT)
    })
}

/// Registers printf and fprintf with `$arg`s after the format.
macro_rules! printf_with {
    ($engine:ident, $shared:ident $(, $arg:ident)*) => {
        let s = $shared.clone();
        $engine.register_fn("printf", move |format: &str $(, $arg: Dynamic)*| -> Result<INT> {
            printf(&s, None, format, vec![$($arg),*])
        });
        let s = $shared.clone();
        $engine.register_fn(
            "fprintf",
            move |fp: INT, format: &str $(, $arg: Dynamic)*| -> Result<INT> {
                printf(&s, Some(fp), format, vec![$($arg),*])
            },
        );
    };
}

fn register_printf(engine: &mut Engine, shared: &Shared) {
    printf_with!(engine, shared);
    printf_with!(engine, shared, a);
    printf_with!(engine, shared, a, b);
    printf_with!(engine, shared, a, b, c);
    printf_with!(engine, shared, a, b, c, d);
    printf_with!(engine, shared, a, b, c, d, e);
    printf_with!(engine, shared, a, b, c, d, e, f);
}

fn register_strings(engine: &mut Engine, shared: &Shared) {
    let s = shared.clone();
    engine.register_fn("memcpy", move |dst: INT, src: INT, n: INT| -> Result<INT> {
        let mut session = lock(&s)?;
        session.charge_ranges("memcpy", unsigned(n), 2)?;
        session.library(0, |c, pid| {
            c.memcpy(pid, unsigned(dst), unsigned(src), unsigned(n))
                .map(|p| p as INT)
        })
    });
    let s = shared.clone();
    engine.register_fn(
        "memset",
        move |dst: INT, byte: INT, n: INT| -> Result<INT> {
            let mut session = lock(&s)?;
            session.charge_ranges("memset", unsigned(n), 1)?;
            // C passes an int and stores it as an unsigned char.
            session.library(0, |c, pid| {
                c.memset(pid, unsigned(dst), byte as u8, unsigned(n))
                    .map(|p| p as INT)
            })
        },
    );
    let s = shared.clone();
    engine.register_fn("memcmp", move |a: INT, b: INT, n: INT| -> Result<INT> {
        let mut session = lock(&s)?;
        session.charge_ranges("memcmp", unsigned(n), 2)?;
        session.library(0, |c, pid| {
            c.memcmp(pid, unsigned(a), unsigned(b), unsigned(n))
                .map(INT::from)
        })
    });
    let s = shared.clone();
    engine.register_fn("strlen", move |str_ptr: INT| -> Result<INT> {
        lock(&s)?.library(0, |c, pid| {
            c.strlen(pid, unsigned(str_ptr)).map(|n| n as INT)
        })
    });
    let s = shared.clone();
    engine.register_fn("strcpy", move |dst: INT, src: INT| -> Result<INT> {
        lock(&s)?.library(0, |c, pid| {
            c.strcpy(pid, unsigned(dst), unsigned(src))
                .map(|p| p as INT)
        })
    });
    let s = shared.clone();
    engine.register_fn("strcmp", move |a: INT, b: INT| -> Result<INT> {
        lock(&s)?.library(0, |c, pid| {
            c.strcmp(pid, unsigned(a), unsigned(b)).map(INT::from)
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_arguments_of_percent_s_become_part_of_the_format() {
        let (format, args) = printf_args(
            "%s: %d%% of %s\n",
            vec![
                "50%".into(),
                Dynamic::from(7 as INT),
                Dynamic::from(0x40 as INT),
            ],
        )
        .unwrap();
        assert_eq!(format, "50%%: %d%% of %s\n");
        assert_eq!(args, vec![Arg::Int(7), Arg::Str(0x40)]);
        let (_, args) = printf_args("%c%p%lx", vec!['A'.into(), 1.into(), 2.into()]).unwrap();
        assert_eq!(args, vec![Arg::Char(b'A'), Arg::Ptr(1), Arg::Int(2)]);
    }

    #[test]
    fn format_errors_name_the_byte_of_the_scripts_format() {
        let err = |f: &str, v: Vec<Dynamic>| printf_args(f, v).unwrap_err().to_string();
        assert!(err("ab %d", vec![]).contains("format byte 3: expected an argument"));
        assert!(err("%s %f", vec!["x".into(), 1.into()]).contains("format byte 3: expected one of"));
        assert!(err("%d", vec!["x".into()]).contains("%d takes an integer, not a string"));
        assert!(err("%d", vec![1.into(), 2.into()]).contains("1 argument(s) more"));
        assert!(err("50%", vec![]).contains("format byte 2: expected a conversion"));
    }
}
