//! The system calls a real program's trace keeps: [`Syscall`], one call
//! that changed (or tried to change) the address space — brk, mmap,
//! munmap, mprotect, mremap — with its arguments as the program passed
//! them and its result as the kernel returned it.
//!
//! A trace that keeps these calls in order with the accesses lets a replay
//! build the same regions the program had (see [`crate::replay`]); the
//! loader's own mappings (the program's text, data and stack) were made
//! before the first recorded call and are not in the trace.
//!
//! Arguments are kept as numbers in Linux's order so the trace formats can
//! store any call as one fixed-size record ([`AddressCall::args`],
//! [`AddressCall::from_args`]).

use std::fmt;

/// One address-space call and its arguments, named as in Linux.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressCall {
    /// `brk(addr)`: move the program break (0 asks for the current one).
    Brk {
        /// The break asked for.
        addr: u64,
    },
    /// `mmap(addr, len, prot, flags, fd, offset)`.
    Mmap {
        /// Hint, or the exact place with `MAP_FIXED`.
        addr: u64,
        /// Bytes.
        len: u64,
        /// `PROT_*` bits.
        prot: u32,
        /// `MAP_*` bits.
        flags: u32,
        /// The file descriptor (-1 for an anonymous mapping).
        fd: i32,
        /// Offset in the file.
        offset: u64,
    },
    /// `munmap(addr, len)`.
    Munmap {
        /// First address.
        addr: u64,
        /// Bytes.
        len: u64,
    },
    /// `mprotect(addr, len, prot)`.
    Mprotect {
        /// First address.
        addr: u64,
        /// Bytes.
        len: u64,
        /// `PROT_*` bits.
        prot: u32,
    },
    /// `mremap(old_addr, old_len, new_len, flags, new_addr)`.
    Mremap {
        /// The mapping's current start.
        old_addr: u64,
        /// Its current length.
        old_len: u64,
        /// The length wanted.
        new_len: u64,
        /// `MREMAP_*` bits.
        flags: u32,
        /// Where to move it (with `MREMAP_FIXED`; 0 otherwise).
        new_addr: u64,
    },
}

/// What a system call returned: `Ok(value)` or `Err(errno)`.
pub type SysResult = Result<u64, i32>;

/// One recorded address-space system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Syscall {
    /// The call and its arguments.
    pub call: AddressCall,
    /// What it returned (the new break for brk, the mapping's address for
    /// mmap and mremap, 0 for munmap and mprotect).
    pub result: SysResult,
}

/// The calls by code, as trace formats store them; the index is the code.
pub const CALL_NAMES: [&str; 5] = ["brk", "mmap", "munmap", "mprotect", "mremap"];

impl AddressCall {
    /// The call's Linux name (`mmap`).
    pub fn name(&self) -> &'static str {
        CALL_NAMES[usize::from(self.code())]
    }

    /// The call's code in trace formats: its index in [`CALL_NAMES`].
    pub fn code(&self) -> u8 {
        match self {
            AddressCall::Brk { .. } => 0,
            AddressCall::Mmap { .. } => 1,
            AddressCall::Munmap { .. } => 2,
            AddressCall::Mprotect { .. } => 3,
            AddressCall::Mremap { .. } => 4,
        }
    }

    /// How many arguments the call takes (mremap: 5, its fifth 0 unless
    /// `MREMAP_FIXED`).
    pub fn arity(code: u8) -> Option<usize> {
        [1, 6, 2, 3, 5].get(usize::from(code)).copied()
    }

    /// The arguments in Linux's order, unused ones 0; the file descriptor
    /// sign-extended (so -1 is `u64::MAX`).
    pub fn args(&self) -> [u64; 6] {
        match *self {
            AddressCall::Brk { addr } => [addr, 0, 0, 0, 0, 0],
            AddressCall::Mmap {
                addr,
                len,
                prot,
                flags,
                fd,
                offset,
            } => [
                addr,
                len,
                u64::from(prot),
                u64::from(flags),
                i64::from(fd) as u64,
                offset,
            ],
            AddressCall::Munmap { addr, len } => [addr, len, 0, 0, 0, 0],
            AddressCall::Mprotect { addr, len, prot } => [addr, len, u64::from(prot), 0, 0, 0],
            AddressCall::Mremap {
                old_addr,
                old_len,
                new_len,
                flags,
                new_addr,
            } => [old_addr, old_len, new_len, u64::from(flags), new_addr, 0],
        }
    }

    /// The call with code `code` and arguments `args` (as [`Self::args`]
    /// gives them), or the index of the first argument that does not fit
    /// (a `PROT_*` or `MAP_*` value wider than 32 bits, a file descriptor
    /// outside `i32`), or `Err(None)` for an unknown code.
    pub fn from_args(code: u8, args: [u64; 6]) -> Result<AddressCall, Option<usize>> {
        let narrow = |i: usize| u32::try_from(args[i]).map_err(|_| Some(i));
        Ok(match code {
            0 => AddressCall::Brk { addr: args[0] },
            1 => AddressCall::Mmap {
                addr: args[0],
                len: args[1],
                prot: narrow(2)?,
                flags: narrow(3)?,
                // Valgrind prints the descriptor as a 32-bit unsigned
                // number, binary traces sign-extend it: both are an i32.
                fd: i32::try_from(args[4] as i64)
                    .or_else(|_| u32::try_from(args[4]).map(|v| v as i32))
                    .map_err(|_| Some(4))?,
                offset: args[5],
            },
            2 => AddressCall::Munmap {
                addr: args[0],
                len: args[1],
            },
            3 => AddressCall::Mprotect {
                addr: args[0],
                len: args[1],
                prot: narrow(2)?,
            },
            4 => AddressCall::Mremap {
                old_addr: args[0],
                old_len: args[1],
                new_len: args[2],
                flags: narrow(3)?,
                new_addr: args[4],
            },
            _ => return Err(None),
        })
    }
}

impl fmt::Display for Syscall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.call {
            AddressCall::Brk { addr } => write!(f, "brk({addr:#x})")?,
            AddressCall::Mmap {
                addr,
                len,
                prot,
                flags,
                fd,
                offset,
            } => write!(
                f,
                "mmap({addr:#x}, {len}, {prot:#x}, {flags:#x}, {fd}, {offset})"
            )?,
            AddressCall::Munmap { addr, len } => write!(f, "munmap({addr:#x}, {len})")?,
            AddressCall::Mprotect { addr, len, prot } => {
                write!(f, "mprotect({addr:#x}, {len}, {prot:#x})")?;
            }
            AddressCall::Mremap {
                old_addr,
                old_len,
                new_len,
                flags,
                new_addr,
            } => write!(
                f,
                "mremap({old_addr:#x}, {old_len}, {new_len}, {flags:#x}, {new_addr:#x})"
            )?,
        }
        match self.result {
            Ok(v) => write!(f, " = {v:#x}"),
            Err(errno) => write!(f, " = -1 (errno {errno})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_survives_its_arguments() {
        let calls = [
            AddressCall::Brk { addr: 0x4035000 },
            AddressCall::Mmap {
                addr: 0,
                len: 8192,
                prot: 3,
                flags: 0x22,
                fd: -1,
                offset: 0,
            },
            AddressCall::Munmap {
                addr: 0x1000,
                len: 4096,
            },
            AddressCall::Mprotect {
                addr: 0x1000,
                len: 4096,
                prot: 1,
            },
            AddressCall::Mremap {
                old_addr: 0x1000,
                old_len: 4096,
                new_len: 8192,
                flags: 1,
                new_addr: 0,
            },
        ];
        for c in calls {
            assert_eq!(AddressCall::from_args(c.code(), c.args()), Ok(c));
            assert_eq!(CALL_NAMES[usize::from(c.code())], c.name());
        }
    }

    #[test]
    fn a_descriptor_printed_unsigned_is_minus_one() {
        let c = AddressCall::from_args(1, [0, 4096, 3, 0x22, 4294967295, 0]);
        assert!(matches!(c, Ok(AddressCall::Mmap { fd: -1, .. })));
        assert_eq!(
            AddressCall::from_args(1, [0, 1, 1 << 40, 0, 0, 0]),
            Err(Some(2))
        );
        assert_eq!(
            AddressCall::from_args(1, [0, 1, 0, 0, 1 << 40, 0]),
            Err(Some(4))
        );
        assert_eq!(AddressCall::from_args(9, [0; 6]), Err(None));
    }
}
