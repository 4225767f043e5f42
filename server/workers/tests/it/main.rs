//! The workers crate's integration tests: child processes and the test
//! command against real programs.

mod process;
mod testrun;
