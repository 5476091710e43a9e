//! Parsing of the numbers users type: addresses in hex (`0x403abc`) or
//! decimal, with optional `_` separators, sizes such as `4K`, `2MiB`,
//! `1G` or `32`, and lists of values with ranges (`1000,2000`,
//! `1000..10000:1000`, `4MiB..64MiB:*2`).

// Shared with the machine-file parser in the kernel crate.
pub use vmlab_kernel::units::{parse_size, parse_u64};

/// Parses a page size (`4K`, `4KiB`, `2M`, `1G`, `32`) into its shift.
pub fn parse_page_size(text: &str) -> Result<u8, String> {
    let n = parse_size(text)?;
    if !n.is_power_of_two() {
        return Err(format!("page size {:?} is not a power of two", text.trim()));
    }
    Ok(n.trailing_zeros() as u8)
}

/// Values a list may expand to, so that a typo such as `1..1000000000:1`
/// is refused instead of filling memory.
const MAX_LIST: usize = 100_000;

/// Parses a comma-separated list whose items are single values or
/// inclusive ranges `FROM..TO:STEP`, where STEP is a value added each time
/// or `*K` (an integer factor of at least 2) for a geometric range.
/// `value` parses one value (a frame count, a size).
pub fn parse_list(text: &str, value: fn(&str) -> Result<u64, String>) -> Result<Vec<u64>, String> {
    let mut out = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        let Some((from, rest)) = item.split_once("..") else {
            out.push(value(item)?);
            continue;
        };
        let (to, step) = rest.split_once(':').ok_or_else(|| {
            format!("range {item:?}: expected FROM..TO:STEP (STEP a value or *FACTOR)")
        })?;
        let (from, to) = (value(from)?, value(to)?);
        if from > to {
            return Err(format!("range {item:?}: its start is past its end"));
        }
        let next: Box<dyn Fn(u64) -> Option<u64>> = match step.trim().strip_prefix('*') {
            Some(factor) => {
                let k = parse_u64(factor)?;
                if k < 2 || from == 0 {
                    return Err(format!(
                        "range {item:?}: a geometric range needs a factor of at least 2 and a start above 0"
                    ));
                }
                Box::new(move |v: u64| v.checked_mul(k))
            }
            None => {
                let d = value(step)?;
                if d == 0 {
                    return Err(format!("range {item:?}: the step must be above 0"));
                }
                Box::new(move |v: u64| v.checked_add(d))
            }
        };
        let mut v = Some(from);
        while let Some(x) = v.filter(|&x| x <= to) {
            out.push(x);
            if out.len() > MAX_LIST {
                return Err(format!("{text:?} expands to more than {MAX_LIST} values"));
            }
            v = next(x);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn lists_and_ranges() {
        assert_eq!(
            parse_list("1000,2000,4000", parse_u64),
            Ok(vec![1000, 2000, 4000])
        );
        assert_eq!(
            parse_list("1000..4000:1000", parse_u64),
            Ok(vec![1000, 2000, 3000, 4000])
        );
        // The end is kept only when a step lands on it.
        assert_eq!(parse_list("1..10:4", parse_u64), Ok(vec![1, 5, 9]));
        assert_eq!(
            parse_list("4MiB..32MiB:*2,100", parse_size),
            Ok(vec![4 << 20, 8 << 20, 16 << 20, 32 << 20, 100])
        );
        assert!(parse_list("10..1:1", parse_u64)
            .unwrap_err()
            .contains("past its end"));
        assert!(parse_list("1..10:0", parse_u64)
            .unwrap_err()
            .contains("above 0"));
        assert!(parse_list("1..10:*1", parse_u64)
            .unwrap_err()
            .contains("factor"));
        assert!(parse_list("1..10", parse_u64)
            .unwrap_err()
            .contains("FROM..TO:STEP"));
        assert!(parse_list("1..1000000000:1", parse_u64)
            .unwrap_err()
            .contains("more than"));
        assert!(parse_list("1,,2", parse_u64).is_err());
    }
}
