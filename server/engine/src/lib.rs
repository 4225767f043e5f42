//! Everything that touches the outside world: the project on disk (root,
//! `.tdd/config.toml`, `init`), the SQLite store, planning PRD files into it,
//! breakers' persistence, running test commands, and git worktrees, stage
//! commits and merges. The scheduler and workers arrive with the execution
//! engine.

pub mod breakers;
pub mod git;
pub mod planning;
pub mod process;
pub mod project;
pub mod store;
pub mod testrun;
