//! The gates crate's integration tests: every runner's recorded output
//! parsed (`tests/runner-output/`), and each gate's rules.

mod gate_cases;
mod gates;
mod reports;
