//! TOML scheme files (to come).
