//! Parsing of the numbers users type for a machine: integers in hex
//! (`0x403abc`), binary or decimal with optional `_` separators, and sizes
//! such as `4K`, `2MiB`, `1G` or `32`. Here rather than in the command
//! line because machine files ([`crate::machine`]) hold the same sizes.

/// Parses `0x`-prefixed hex, `0b` binary or decimal, allowing `_`.
pub fn parse_u64(text: &str) -> Result<u64, String> {
    let clean: String = text.trim().chars().filter(|&c| c != '_').collect();
    let lower = clean.to_ascii_lowercase();
    let (digits, radix) = if let Some(hex) = lower.strip_prefix("0x") {
        (hex, 16)
    } else if let Some(bin) = lower.strip_prefix("0b") {
        (bin, 2)
    } else {
        (lower.as_str(), 10)
    };
    if digits.is_empty() {
        return Err(format!("expected a number, found {text:?}"));
    }
    u64::from_str_radix(digits, radix).map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow => format!("{text:?} does not fit in 64 bits"),
        _ => format!("expected a number (hex with 0x, binary with 0b, or decimal), found {text:?}"),
    })
}

/// Parses a byte count with an optional binary unit (`4K`, `4KiB`, `48M`,
/// `1G`, `4096`): not only powers of two, unlike a page size.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let upper = t.to_ascii_uppercase();
    let stripped = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (digits, unit) = match stripped.chars().last() {
        Some('K') => (&stripped[..stripped.len() - 1], 1u64 << 10),
        Some('M') => (&stripped[..stripped.len() - 1], 1 << 20),
        Some('G') => (&stripped[..stripped.len() - 1], 1 << 30),
        Some('T') => (&stripped[..stripped.len() - 1], 1 << 40),
        _ => (stripped, 1),
    };
    let n = parse_u64(digits)
        .map_err(|_| format!("expected a size such as 4096, 64K or 1GiB, found {t:?}"))?;
    n.checked_mul(unit)
        .ok_or_else(|| format!("size {t:?} does not fit in 64 bits"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_every_radix() {
        assert_eq!(parse_u64("0x403abc"), Ok(0x403abc));
        assert_eq!(parse_u64("0X40_3ABC"), Ok(0x403abc));
        assert_eq!(parse_u64("4096"), Ok(4096));
        assert_eq!(parse_u64("0b101"), Ok(5));
        assert!(parse_u64("0x").is_err());
        assert!(parse_u64("12z").unwrap_err().contains("\"12z\""));
        assert!(parse_u64("0x1_0000_0000_0000_0000")
            .unwrap_err()
            .contains("64 bits"));
    }

    #[test]
    fn sizes_with_any_multiplier() {
        assert_eq!(parse_size("48M"), Ok(48 << 20));
        assert_eq!(parse_size("3KiB"), Ok(3072));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("lots").unwrap_err().contains("\"lots\""));
        assert!(parse_size("99999999999T").unwrap_err().contains("64 bits"));
    }
}
