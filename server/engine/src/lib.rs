//! Everything that touches the outside world: the project on disk (root,
//! `.tdd/config.toml`, `init`), the SQLite store, and planning PRD files into
//! it. The scheduler, git and workers arrive with the execution engine.

pub mod breakers;
pub mod planning;
pub mod process;
pub mod project;
pub mod store;
pub mod testrun;
