//! The core's integration tests: one binary, a module per area (rust-analyzer's
//! `slow-tests` shape), so the crate's dependencies are linked once.

mod assist;
mod corpus;
mod diagnostics_doc;
mod plan;
mod properties;
mod schemas;
