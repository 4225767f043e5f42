//! Legacy spec parser (in progress).
// TEMPORARY compile shim until the legacy parser lands (helper is writing this file).
use crate::diagnostic::Diagnostic;
use crate::model::{Format, Prd};
pub fn parse(_text: &str) -> (Prd, Vec<Diagnostic>) { (Prd::empty(Format::Legacy), Vec::new()) }
pub fn looks_like_legacy(_text: &str) -> bool { false }
