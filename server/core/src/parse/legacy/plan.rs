//! The legacy plan sections: MODULE STRUCTURE, DEPENDENCY CHANGES and MODULE API SPECIFICATION.

use super::parser::{Parser, line_span};
use super::*;
use crate::model::{DependencyChanges, ModuleApi, ModuleStructure};
use crate::text::Span;

impl Parser<'_> {
    /// `MODULE STRUCTURE`: header line `i`, content from line `from`.
    pub(super) fn module_structure(&mut self, i: usize, from: usize) -> usize {
        let mut base_path = None;
        let mut files = Vec::new();
        let mut end = self.lines[from - 1].content_end();
        let mut j = from;
        while j < self.lines.len() {
            let line = self.lines[j];
            if line.blank {
                j += 1;
                continue;
            }
            if self.ends_plan_block(j) {
                break;
            }
            let entry = tree_entry(line.content());
            if base_path.is_none() && entry.contains('/') {
                base_path = Some(entry.to_string());
            }
            if is_file_name(entry) {
                files.push(entry.to_string());
            }
            end = line.content_end();
            j += 1;
        }
        if self.plan.module_structure.is_none() {
            let span = Span::new(self.lines[i].content_start(), end);
            self.plan.module_structure = Some(ModuleStructure {
                base_path,
                files,
                span,
            });
        }
        j
    }

    /// `DEPENDENCY CHANGES`: the first `extra = ["pkg", …]` array (it may span lines).
    pub(super) fn dependency_changes(&mut self, i: usize, from: usize) -> usize {
        let mut extra = None;
        let mut packages = Vec::new();
        let mut in_array = false;
        let mut end = self.lines[from - 1].content_end();
        let mut j = from;
        while j < self.lines.len() {
            let line = self.lines[j];
            if line.blank {
                j += 1;
                continue;
            }
            if self.ends_plan_block(j) {
                break;
            }
            let content = line.content();
            let content = content[bullet_len(content)..].trim();
            if in_array {
                in_array = !quoted_strings(content, &mut packages);
            } else if extra.is_none()
                && let Some((name, rest)) = toml_array_start(content)
            {
                extra = Some(name);
                in_array = !quoted_strings(rest, &mut packages);
            }
            end = line.content_end();
            j += 1;
        }
        if self.plan.dependency_changes.is_none() {
            let span = Span::new(self.lines[i].content_start(), end);
            self.plan.dependency_changes = Some(DependencyChanges {
                extra,
                packages,
                span,
            });
        }
        j
    }

    /// `MODULE API SPECIFICATION` (content from line `from`): a block per `src/x/y.py:` line.
    pub(super) fn module_api(&mut self, from: usize) -> usize {
        let mut current: Option<ModuleApi> = None;
        let mut j = from;
        while j < self.lines.len() {
            let line = self.lines[j];
            if line.blank {
                j += 1;
                continue;
            }
            let hashes = hash_heading(&line);
            let content = &line.content()[hashes.unwrap_or(0)..];
            let path = module_path(content, hashes.is_some());
            if path.is_none() && self.ends_plan_block(j) {
                break;
            }
            if let Some(path) = path {
                self.plan.module_api.extend(current.take());
                current = Some(ModuleApi {
                    path: path.to_string(),
                    exports: Vec::new(),
                    import_pattern: None,
                    test_import: None,
                    span: line_span(&line),
                });
                j += 1;
                continue;
            }
            if let Some(module) = current.as_mut() {
                let start = line.content_start();
                match key_value(start, content) {
                    Some((key, value))
                        if matches!(
                            key.as_str(),
                            "import_pattern" | "import pattern" | "import"
                        ) =>
                    {
                        module.import_pattern = Some(value.slice(self.text).to_string());
                    }
                    Some((key, value)) if matches!(key.as_str(), "test_import" | "test import") => {
                        module.test_import = Some(value.slice(self.text).to_string());
                    }
                    Some((key, _)) if key == "exports" => {}
                    _ => {
                        if bullet_len(content) > 0 {
                            module.exports.extend(parse_export(content));
                        }
                    }
                }
                module.span.end = line.content_end();
            }
            j += 1;
        }
        self.plan.module_api.extend(current);
        j
    }
}
