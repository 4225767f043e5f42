//! The project's state and its runs: the project on disk (root,
//! `.tdd/config.toml`, `init`), the SQLite store and its event log, planning
//! PRD files into it, git (worktrees, stage commits, merges), the stage
//! pipeline of one task, the scheduler that runs a graph's tasks in
//! parallel, runs (`execution`: resume, pause, cancel, budgets), the
//! breakers' persistence, operations between runs, webhooks, the view
//! every client reads, and re-checking a branch's evidence from git alone
//! (`recheck`). The workers are `tdd-workers`; the gates that judge
//! each stage are `tdd-gates`.

pub mod assist;
pub mod breakers;
pub mod events;
pub mod execution;
pub mod git;
pub mod operations;
pub mod pipeline;
pub mod planning;
pub mod project;
pub mod recheck;
pub mod registry;
pub mod scheduler;
pub mod store;
pub mod view;
pub mod webhooks;
