//! The vocabulary of a memory access: what kind it is ([`AccessKind`]), the
//! privilege it runs at ([`Mode`]), and the permissions a translation grants
//! ([`Perms`]), in one architecture-neutral form every layer shares.

use bitflags::bitflags;
use std::fmt;

/// What an access does with the byte it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessKind {
    /// A data load.
    Read,
    /// A data store.
    Write,
    /// An instruction fetch.
    Fetch,
}

impl AccessKind {
    /// The short lower-case name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            AccessKind::Read => "read",
            AccessKind::Write => "write",
            AccessKind::Fetch => "fetch",
        }
    }
}

impl fmt::Display for AccessKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The privilege level an access runs at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// User mode (x86 CPL 3, RISC-V U-mode, AArch64 EL0).
    User,
    /// Supervisor mode (x86 CPL 0, RISC-V S-mode, AArch64 EL1).
    Supervisor,
}

impl Mode {
    /// The short lower-case name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Mode::User => "user",
            Mode::Supervisor => "supervisor",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

bitflags! {
    /// What a mapping allows, after the architecture's encoding has been
    /// decoded. Execute permission is split by mode because AArch64 (UXN/PXN)
    /// distinguishes the two; on x86 and RISC-V both bits move together.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct Perms: u8 {
        /// Loads are allowed.
        const READ = 1 << 0;
        /// Stores are allowed.
        const WRITE = 1 << 1;
        /// Instruction fetches are allowed in user mode.
        const EXEC_USER = 1 << 2;
        /// Instruction fetches are allowed in supervisor mode.
        const EXEC_SUPER = 1 << 3;
        /// User mode may access the page at all.
        const USER = 1 << 4;
    }
}

impl Perms {
    /// Read, write and execute (both modes), but supervisor-only.
    pub const RWX: Perms = Perms::READ
        .union(Perms::WRITE)
        .union(Perms::EXEC_USER)
        .union(Perms::EXEC_SUPER);

    /// Parses the `r`, `w`, `x`, `u` letters of a permission string such as
    /// `rw`, `rx` or `rwxu`; `x` grants execute in both modes. Returns the
    /// offending character on error.
    pub fn parse_letters(text: &str) -> Result<Perms, char> {
        let mut perms = Perms::empty();
        for c in text.chars() {
            perms |= match c {
                'r' => Perms::READ,
                'w' => Perms::WRITE,
                'x' => Perms::EXEC_USER | Perms::EXEC_SUPER,
                'u' => Perms::USER,
                '-' => Perms::empty(),
                other => return Err(other),
            };
        }
        Ok(perms)
    }

    /// Whether these permissions allow `kind` at `mode`. The supervisor's
    /// access to user pages is not decided here: it is an architecture rule
    /// (SMAP, SUM, PAN) applied by the walker.
    #[inline]
    pub fn allows(self, kind: AccessKind, mode: Mode) -> bool {
        if mode == Mode::User && !self.contains(Perms::USER) {
            return false;
        }
        match (kind, mode) {
            (AccessKind::Read, _) => self.contains(Perms::READ),
            (AccessKind::Write, _) => self.contains(Perms::WRITE),
            (AccessKind::Fetch, Mode::User) => self.contains(Perms::EXEC_USER),
            (AccessKind::Fetch, Mode::Supervisor) => self.contains(Perms::EXEC_SUPER),
        }
    }
}

impl fmt::Display for Perms {
    /// `rwxu`-style letters with `-` for an absent right; `x` is shown when
    /// either mode may execute.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let letter = |set: bool, c: char| if set { c } else { '-' };
        write!(
            f,
            "{}{}{}{}",
            letter(self.contains(Perms::READ), 'r'),
            letter(self.contains(Perms::WRITE), 'w'),
            letter(self.intersects(Perms::EXEC_USER | Perms::EXEC_SUPER), 'x'),
            letter(self.contains(Perms::USER), 'u'),
        )
    }
}

impl serde::Serialize for Perms {
    /// Serialised as the `rwxu` letters of [`fmt::Display`].
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_round_trip() {
        let p = Perms::parse_letters("rwu").unwrap();
        assert_eq!(p, Perms::READ | Perms::WRITE | Perms::USER);
        assert_eq!(p.to_string(), "rw-u");
        assert_eq!(Perms::parse_letters("rq"), Err('q'));
    }

    #[test]
    fn user_mode_needs_user_bit() {
        let kernel_rw = Perms::READ | Perms::WRITE;
        assert!(!kernel_rw.allows(AccessKind::Read, Mode::User));
        assert!(kernel_rw.allows(AccessKind::Write, Mode::Supervisor));
        assert!(!kernel_rw.allows(AccessKind::Fetch, Mode::Supervisor));
        let user_rx = Perms::READ | Perms::EXEC_USER | Perms::USER;
        assert!(user_rx.allows(AccessKind::Fetch, Mode::User));
        assert!(!user_rx.allows(AccessKind::Fetch, Mode::Supervisor));
        assert!(!user_rx.allows(AccessKind::Write, Mode::User));
    }
}
