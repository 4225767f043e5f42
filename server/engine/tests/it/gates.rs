//! The stage gates on real projects in every language (`tests/fixtures/`): a
//! scripted worker drives one task through RED → GREEN → VERIFY → REFACTOR →
//! MERGE with the real test runner, and each gate must reject what it must
//! (a RED that does not parse; a GREEN that edits, deletes or skips a test or
//! breaks an earlier one; a stub that only passes a weak test; a broken
//! REFACTOR, rolled back) and accept a correct run.
//!
//! Needs pytest in the repository's `.venv`, cargo, Go and Node with vitest
//! installed in `tests/fixtures/typescript` (./scripts/test installs them).
//! Without one, that language's tests fail: a skipped check is not a pass.

mod go;
mod harness;
mod python;
mod rust;
mod scenarios;
mod typescript;
