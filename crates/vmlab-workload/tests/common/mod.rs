//! What the trace driver's test files share.

use vmlab_hw::arch::presets;

/// Every scheme a real processor implements (eleven): the presets but the
/// teaching machines, whose address spaces of 14 to 16 bits cannot hold a
/// generator's pages.
pub fn processor_schemes() -> Vec<&'static str> {
    let schemes: Vec<&str> = presets::NAMES
        .iter()
        .copied()
        .filter(|name| presets::by_name(name).unwrap().unwrap().va_bits() >= 32)
        .collect();
    assert_eq!(schemes.len(), 11, "{schemes:?}");
    schemes
}
