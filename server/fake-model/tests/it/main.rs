//! The fake model server over real HTTP: one test binary, a module per area (rust-analyzer's
//! `slow-tests` shape), so the dependencies are linked once.

mod common;
mod solving;

mod anthropic;
mod chat;
mod cheater;
mod faults;
mod responses;
mod script;
mod solution;
mod solver;
