//! Canonical Markdown writer (in progress).
// TEMPORARY compile shim until the renderer lands (helper is writing this file).
pub fn to_markdown(_prd: &crate::model::Prd) -> String { String::new() }
