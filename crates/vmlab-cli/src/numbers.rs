//! Parsing of the numbers users type: addresses in hex (`0x403abc`) or
//! decimal, with optional `_` separators, and sizes such as `4K`, `2MiB`,
//! `1G` or `32`.

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

/// Parses a page size (`4K`, `4KiB`, `2M`, `1G`, `32`) into its shift.
pub fn parse_page_size(text: &str) -> Result<u8, String> {
    let t = text.trim();
    let upper = t.to_ascii_uppercase();
    let stripped = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (digits, unit_shift) = match stripped.chars().last() {
        Some('K') => (&stripped[..stripped.len() - 1], 10),
        Some('M') => (&stripped[..stripped.len() - 1], 20),
        Some('G') => (&stripped[..stripped.len() - 1], 30),
        Some('T') => (&stripped[..stripped.len() - 1], 40),
        _ => (stripped, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("expected a size such as 4K, 2M or 1G, found {t:?}"))?;
    if !n.is_power_of_two() {
        return Err(format!("page size {t:?} is not a power of two"));
    }
    let shift = n.trailing_zeros() + unit_shift;
    u8::try_from(shift)
        .ok()
        .filter(|&s| s < 64)
        .ok_or_else(|| format!("page size {t:?} is too large"))
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
    fn page_sizes() {
        assert_eq!(parse_page_size("4K"), Ok(12));
        assert_eq!(parse_page_size("4KiB"), Ok(12));
        assert_eq!(parse_page_size("2m"), Ok(21));
        assert_eq!(parse_page_size("1G"), Ok(30));
        assert_eq!(parse_page_size("32"), Ok(5));
        assert!(parse_page_size("3K").is_err());
        assert!(parse_page_size("big").is_err());
    }
}
