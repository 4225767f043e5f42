//! The `tdd-orchestrator` binary from outside: one test binary, a module per area (rust-analyzer's
//! `slow-tests` shape), so the dependencies are linked once.

mod support;

mod api_run;
mod assist;
mod cli;
mod crash_resume;
mod decompose;
mod demo;
mod ops;
mod panel;
mod run_prd;
mod setup;
mod verify_evidence;
