//! Everything that touches the outside world. For now: the project on disk
//! (root, `.tdd/config.toml`, `init`) and reading PRD files. The store,
//! scheduler, git and workers arrive with the execution engine.

pub mod project;
pub mod store;
