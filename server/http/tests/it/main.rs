//! The daemon over real HTTP: one test binary, a module per area (rust-analyzer's
//! `slow-tests` shape), so the dependencies are linked once.

mod api;
