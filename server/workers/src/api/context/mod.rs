//! What the prompt says about the project around the task: the exact files
//! and how tests import the code (from the language and layout), the
//! signatures of code that already exists in the files the task writes, and
//! the names of the tests in sibling test files. Each part is bounded and a
//! cut says so. Everything is read from the worktree line by line; nothing
//! here fails an attempt.

use std::fmt::Write;
use std::fs;
use std::path::{Component, Path, PathBuf};

use tdd_core::config::Language;
use tdd_gates::is_test_path;

use super::super::StageRequest;
use super::prompt::clip;

mod scan;

pub(super) use scan::{signatures, test_names};

/// Most characters of one part (files, signatures, sibling tests).
const MAX_PART: usize = 3_000;
/// Most characters of one quoted line of code.
const MAX_LINE: usize = 200;
/// Most signatures per file, test names per file, files per part.
const MAX_PER_FILE: usize = 40;
const MAX_FILES: usize = 12;
/// Files larger than this are not read for signatures or names.
const MAX_READ: u64 = 512 * 1024;

/// The parts, each with its heading; empty when nothing is known.
pub(super) fn project(request: &StageRequest) -> String {
    let view = View::new(request);
    let Some(language) = view.language else {
        return String::new();
    };
    let mut out = String::new();
    part(&mut out, "Project files", &view.files(language));
    part(
        &mut out,
        "Code that already exists (signatures, by file and line)",
        &view.signatures(language),
    );
    part(
        &mut out,
        "Tests in sibling test files (they must keep passing; follow their style)",
        &view.siblings(language),
    );
    out
}

/// Appends a heading and its body, the body cut at a line end past
/// [`MAX_PART`] with a marker.
fn part(out: &mut String, heading: &str, body: &str) {
    if body.trim().is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{heading}:");
    let mut used = 0;
    let lines: Vec<&str> = body.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        used += line.len() + 1;
        if used > MAX_PART {
            let _ = writeln!(out, "[… clipped: {} more lines]", lines.len() - i);
            return;
        }
        let _ = writeln!(out, "{line}");
    }
}

struct View<'r> {
    root: &'r Path,
    language: Option<Language>,
    source_root: Option<String>,
    test_files: Vec<String>,
    impl_file: Option<&'r str>,
    /// The other files the task writes, neither tests nor the impl file.
    others: Vec<&'r str>,
}

impl<'r> View<'r> {
    fn new(request: &'r StageRequest) -> View<'r> {
        let task = &request.task;
        let probe = request.tests.as_ref();
        let language = probe.map(|p| p.layout.language).or_else(|| {
            task.impl_file
                .iter()
                .chain(&task.test_file)
                .find_map(|f| language_of(f))
        });
        let mut test_files: Vec<String> = match probe {
            Some(p) => p.test_files.clone(),
            None => task.test_file.iter().cloned().collect(),
        };
        if let Some(language) = language {
            for path in &task.writes {
                if is_test_path(language, path) && !test_files.contains(path) {
                    test_files.push(path.clone());
                }
            }
        }
        let impl_file = task.impl_file.as_deref();
        let others = task
            .writes
            .iter()
            .map(String::as_str)
            .filter(|w| Some(*w) != impl_file && !test_files.iter().any(|t| t == w))
            .collect();
        View {
            root: &request.worktree,
            language,
            source_root: probe.map(|p| p.layout.source_root.clone()),
            test_files,
            impl_file,
            others,
        }
    }

    fn exists(&self, rel: &str) -> &'static str {
        if self.root.join(rel).is_file() {
            "exists"
        } else {
            "new"
        }
    }

    fn files(&self, language: Language) -> String {
        let mut out = String::new();
        for test in self.test_files.iter().take(MAX_FILES) {
            let _ = writeln!(out, "- test file: {test} ({})", self.exists(test));
        }
        if let Some(file) = self.impl_file {
            let _ = writeln!(out, "- implementation file: {file} ({})", self.exists(file));
        }
        for file in self.others.iter().take(MAX_FILES) {
            let _ = writeln!(
                out,
                "- also written by the task: {file} ({})",
                self.exists(file)
            );
        }
        if let (Some(test), Some(file)) = (self.test_files.first(), self.impl_file) {
            let convention = match language {
                Language::Python => self.python_import(file),
                Language::Rust => self.rust_import(test, file),
                Language::Typescript => typescript_import(test, file),
                Language::Go => self.go_import(test, file),
            };
            let _ = writeln!(out, "- import convention: {convention}");
        }
        let imports = self.sibling_imports(language);
        if !imports.is_empty() {
            let _ = writeln!(out, "- existing tests import like this:");
            for line in imports {
                let _ = writeln!(out, "    {line}");
            }
        }
        out
    }

    fn python_import(&self, file: &str) -> String {
        let source_root = self
            .source_root
            .clone()
            .unwrap_or_else(|| match file.split_once('/') {
                Some(("src", _)) => "src".to_string(),
                _ => ".".to_string(),
            });
        let within = strip_root(file, &source_root);
        let module = within
            .trim_end_matches(".py")
            .trim_end_matches("/__init__")
            .replace('/', ".");
        let root = source_root.trim_end_matches('/');
        if matches!(root, "" | ".") {
            return format!(
                "tests import the code as `from {module} import …` (the project root is on \
                 the import path)"
            );
        }
        format!(
            "tests import the code as `from {module} import …` (`{root}` is on the import \
             path: not `from {}.{module} import …`)",
            root.replace('/', ".")
        )
    }

    fn rust_import(&self, test: &str, file: &str) -> String {
        let krate = crate_name(self.root).unwrap_or_else(|| "the_crate".to_string());
        let within = strip_root(file, "src");
        let module = within
            .trim_end_matches(".rs")
            .trim_end_matches("/mod")
            .replace('/', "::");
        let path = match module.as_str() {
            "lib" | "main" => krate.clone(),
            _ => format!("{krate}::{module}"),
        };
        if test.starts_with("tests/") {
            format!(
                "integration tests in tests/ use the library crate as `use {path}::…;`; only \
                 `pub` items are reachable, and a new module must be declared `pub mod` in \
                 src/lib.rs"
            )
        } else {
            "unit tests sit in a `#[cfg(test)] mod tests` with `use super::*;`".to_string()
        }
    }

    fn go_import(&self, test: &str, file: &str) -> String {
        let package = read(&self.root.join(file))
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.trim().strip_prefix("package ").map(str::to_string))
            })
            .or_else(|| {
                Path::new(file)
                    .parent()
                    .and_then(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "main".to_string());
        let same_dir = Path::new(test).parent() == Path::new(file).parent();
        if same_dir {
            format!(
                "the test file is in package `{package}`, the same directory as {file}: call \
                 its functions directly, no import; `import \"testing\"`"
            )
        } else {
            format!("{file} is package `{package}`: import it by its module path")
        }
    }

    /// Distinct import lines of the sibling test files.
    fn sibling_imports(&self, language: Language) -> Vec<String> {
        let mut found: Vec<String> = Vec::new();
        for path in self.sibling_tests(language) {
            let Some(text) = read(&self.root.join(&path)) else {
                continue;
            };
            for line in text.lines().map(str::trim) {
                let import = match language {
                    Language::Python => line.starts_with("from ") || line.starts_with("import "),
                    Language::Rust => line.starts_with("use "),
                    Language::Typescript => line.starts_with("import "),
                    Language::Go => line.starts_with("import ") || line.starts_with("package "),
                };
                let line = clip(line, MAX_LINE);
                if import && !found.contains(&line) && found.len() < 8 {
                    found.push(line);
                }
            }
        }
        found
    }

    /// The test files next to the task's first one, the task's own left out.
    fn sibling_tests(&self, language: Language) -> Vec<String> {
        let Some(first) = self.test_files.first() else {
            return Vec::new();
        };
        let dir = Path::new(first).parent().unwrap_or(Path::new(""));
        let Ok(entries) = fs::read_dir(self.root.join(dir)) else {
            return Vec::new();
        };
        let mut found: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| rel(dir, &e.file_name().to_string_lossy()))
            .filter(|p| is_test_path(language, p) && !self.test_files.contains(p))
            .filter(|p| language_of(p) == Some(language))
            .collect();
        found.sort();
        found.truncate(MAX_FILES);
        found
    }

    fn signatures(&self, language: Language) -> String {
        let mut out = String::new();
        for file in self.impl_file.iter().chain(&self.others).take(MAX_FILES) {
            let Some(text) = read(&self.root.join(file)) else {
                continue;
            };
            let found = signatures(language, &text);
            if found.is_empty() {
                continue;
            }
            let _ = writeln!(out, "{file}:");
            for (line, signature) in found.iter().take(MAX_PER_FILE) {
                let _ = writeln!(out, "  {line}: {signature}");
            }
            if found.len() > MAX_PER_FILE {
                let _ = writeln!(out, "  … and {} more", found.len() - MAX_PER_FILE);
            }
        }
        out
    }

    fn siblings(&self, language: Language) -> String {
        let mut out = String::new();
        for path in self.sibling_tests(language) {
            let Some(text) = read(&self.root.join(&path)) else {
                continue;
            };
            let names = test_names(language, &text);
            if names.is_empty() {
                continue;
            }
            let shown: Vec<String> = names
                .iter()
                .take(MAX_PER_FILE)
                .map(|n| clip(n, MAX_LINE))
                .collect();
            let more = names.len().saturating_sub(MAX_PER_FILE);
            let tail = if more > 0 {
                format!(", … and {more} more")
            } else {
                String::new()
            };
            let _ = writeln!(out, "- {path}: {}{tail}", shown.join(", "));
        }
        out
    }
}

fn language_of(path: &str) -> Option<Language> {
    match Path::new(path).extension()?.to_str()? {
        "py" => Some(Language::Python),
        "rs" => Some(Language::Rust),
        "ts" | "tsx" | "mts" | "cts" | "js" | "mjs" => Some(Language::Typescript),
        "go" => Some(Language::Go),
        _ => None,
    }
}

/// A small text file of the worktree, or nothing.
fn read(path: &Path) -> Option<String> {
    let meta = fs::symlink_metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_READ {
        return None;
    }
    fs::read_to_string(path).ok()
}

fn rel(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

/// `file` without the leading `root/`.
fn strip_root<'f>(file: &'f str, root: &str) -> &'f str {
    let root = root.trim_end_matches('/');
    if matches!(root, "" | ".") {
        return file.trim_start_matches("./");
    }
    file.strip_prefix(root)
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or(file)
}

fn typescript_import(test: &str, file: &str) -> String {
    let from = Path::new(test).parent().unwrap_or(Path::new(""));
    let target = Path::new(file).with_extension("");
    let mut spec = relative(from, &target).display().to_string();
    if !spec.starts_with('.') {
        spec = format!("./{spec}");
    }
    format!("tests import the code as `import {{ … }} from \"{spec}\";` (no file extension)")
}

/// The path from directory `from` to `to`, both relative to the same root.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let a: Vec<Component<'_>> = from.components().collect();
    let b: Vec<Component<'_>> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for part in &b[common..] {
        out.push(part);
    }
    out
}

/// `name = "…"` of `[package]` in the worktree's Cargo.toml, as a crate
/// path (dashes become underscores).
fn crate_name(root: &Path) -> Option<String> {
    let text = read(&root.join("Cargo.toml"))?;
    let mut in_package = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(value) = line.strip_prefix("name") {
            let value = value.trim_start().strip_prefix('=')?.trim();
            return Some(value.trim_matches('"').replace('-', "_"));
        }
    }
    None
}
