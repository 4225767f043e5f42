//! Everything that touches the outside world: the project on disk (root,
//! `.tdd/config.toml`, `init`), the SQLite store, planning PRD files into it,
//! breakers' persistence, running test commands, and git worktrees, stage
//! commits and merges, the `Worker` trait (with a scripted worker), the stage
//! pipeline of one task, and the scheduler that runs a graph's tasks in
//! parallel. Real workers, resume and the `run` command come next.

pub mod assist;
pub mod breakers;
pub mod events;
pub mod execution;
pub mod git;
pub mod operations;
pub mod pipeline;
pub mod planning;
pub mod process;
pub mod project;
pub mod registry;
pub mod scheduler;
pub mod store;
pub mod testrun;
pub mod transcript;
pub mod usage;
pub mod view;
pub mod webhooks;
pub mod worker;
