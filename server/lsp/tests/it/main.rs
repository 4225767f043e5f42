//! The language server in process: one test binary, a module per area (rust-analyzer's
//! `slow-tests` shape), so the dependencies are linked once.

mod support;

mod protocol;
mod run;
