//! The engine's integration tests: one binary, a module per area (rust-analyzer's
//! `slow-tests` shape), so libgit2, SQLite and rustls are linked once.

mod support;

mod agent_cli;
mod aider;
mod api_solver;
mod api_worker;
mod assist;
mod breakers;
mod checkout;
mod command_worker;
mod execution;
mod gates;
mod git;
mod human_worker;
mod pipeline;
mod replan;
mod scheduler;
mod store_api;
mod store_concurrency;
mod store_crash;
mod store_migrations;
