//! Pass 2: cycles → tasks. A cycle's criteria are split, in document order,
//! into tasks of at most `MAX_CRITERIA_PER_TASK`; each task is keyed by its
//! requirement and first criterion id. Files come from `Module:` / `Tests:`
//! (or the legacy module hint), else from the project layout.

use super::cycles::{Cycle, SHARED};
use super::{MAX_CRITERIA_PER_TASK, Task, TaskKind};
use crate::config::{Language, Layout};
use crate::model::Criterion;

/// A task with the criteria it owns, for pass 3.
pub(super) struct Planned<'a> {
    pub task: Task,
    pub criteria: Vec<&'a Criterion>,
}

pub(super) fn tasks<'a>(cycles: &[Cycle<'a>], layout: &Layout) -> Vec<Planned<'a>> {
    let mut out = Vec::new();
    for cycle in cycles {
        let slug = slug(&cycle.title);
        let impl_file = match (&cycle.module, cycle.id == SHARED) {
            (Some(module), _) => Some(module.value.clone()),
            (None, true) => None,
            (None, false) => Some(derived_impl_file(layout, &slug)),
        };
        let chunks: Vec<_> = cycle.criteria.chunks(MAX_CRITERIA_PER_TASK).collect();
        for (index, chunk) in chunks.iter().enumerate() {
            let ids: Vec<String> = chunk
                .iter()
                .filter_map(|c| c.id.as_ref().map(|i| i.value.clone()))
                .collect();
            let first = ids
                .first()
                .cloned()
                .unwrap_or_else(|| "(no id)".to_string());
            let test_file = cycle
                .tests
                .get(index)
                .or(cycle.tests.last())
                .map(|t| t.value.clone())
                .unwrap_or_else(|| derived_test_file(layout, &slug, impl_file.as_deref()));
            let title = if chunks.len() == 1 {
                cycle.title.clone()
            } else {
                format!("{} ({} of {})", cycle.title, index + 1, chunks.len())
            };
            let writes = [Some(&test_file), impl_file.as_ref()]
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            let key = format!("{}/{first}", cycle.id);
            let task = Task {
                requirement: cycle.requirement.map(|r| r.id.value.clone()),
                criteria: ids,
                test_file: Some(test_file),
                impl_file: impl_file.clone(),
                writes,
                components: cycle.components.clone(),
                expected_tests: cycle.expected_tests,
                source: chunk.first().map_or(cycle.source, |c| c.span),
                ..Task::new(key, TaskKind::Implement, title)
            };
            out.push(Planned {
                task,
                criteria: chunk.to_vec(),
            });
        }
    }
    out
}

/// A new Rust module only compiles once its parent declares it (`mod x;`
/// in `src/lib.rs`, or in `src/a.rs` / `src/a/mod.rs` for `src/a/x.rs`), so
/// a task creating one also writes that file. File ownership then orders
/// the tasks that declare modules in the same parent.
pub(super) fn add_rust_module_parents(tasks: &mut [Task], project: &super::ProjectFiles) {
    for task in tasks {
        let Some(module) = task.impl_file.clone() else {
            continue;
        };
        if project.paths.contains(&module) {
            continue;
        }
        let Some(parent) = rust_module_parent(&module, project) else {
            continue;
        };
        if !task.writes.contains(&parent) {
            task.writes.push(parent);
        }
    }
}

/// The file that declares the module `path`, if it is a Rust module under
/// `src/` (not a crate root itself).
fn rust_module_parent(path: &str, project: &super::ProjectFiles) -> Option<String> {
    let inner = path.strip_prefix("src/")?.strip_suffix(".rs")?;
    let (dir, name) = match inner.rsplit_once('/') {
        Some((dir, name)) => (Some(dir), name),
        None => (None, inner),
    };
    if name == "mod" && dir.is_none() {
        return None;
    }
    let exists = |p: &str| project.paths.contains(p);
    Some(match dir {
        None if matches!(name, "lib" | "main") => return None,
        None if !exists("src/lib.rs") && exists("src/main.rs") => "src/main.rs".to_string(),
        None => "src/lib.rs".to_string(),
        // `src/a/mod.rs` is declared by a's own parent, like `src/a.rs`.
        Some(dir) if name == "mod" => return rust_module_parent(&format!("src/{dir}.rs"), project),
        Some(dir) if exists(&format!("src/{dir}/mod.rs")) => format!("src/{dir}/mod.rs"),
        Some(dir) => format!("src/{dir}.rs"),
    })
}

/// `Borrow a book!` → `borrow_a_book` (ASCII letters and digits, at most 6 words).
pub(super) fn slug(title: &str) -> String {
    let words: Vec<String> = title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(6)
        .map(str::to_ascii_lowercase)
        .collect();
    if words.is_empty() {
        "feature".to_string()
    } else {
        words.join("_")
    }
}

fn join(root: &str, rest: &str) -> String {
    let root = root.trim_end_matches('/');
    if root.is_empty() || root == "." {
        rest.to_string()
    } else {
        format!("{root}/{rest}")
    }
}

fn derived_impl_file(layout: &Layout, slug: &str) -> String {
    let root = &layout.source_root;
    match layout.language {
        Language::Python => join(root, &format!("{slug}.py")),
        Language::Rust => join(root, &format!("{slug}.rs")),
        Language::Typescript => join(root, &format!("{slug}.ts")),
        Language::Go => join(root, &format!("{}/{}.go", slug.replace('_', ""), slug)),
    }
}

fn derived_test_file(layout: &Layout, slug: &str, impl_file: Option<&str>) -> String {
    let root = &layout.test_root;
    match layout.language {
        Language::Python => join(root, &format!("test_{slug}.py")),
        Language::Rust => join(root, &format!("{slug}.rs")),
        Language::Typescript => join(root, &format!("{slug}.test.ts")),
        // Go tests live beside the code they test.
        Language::Go => match impl_file.and_then(|f| f.rsplit_once('/')) {
            Some((dir, _)) => format!("{dir}/{slug}_test.go"),
            None => join(root, &format!("{slug}_test.go")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_short_and_plain() {
        assert_eq!(slug("Borrow a book!"), "borrow_a_book");
        assert_eq!(slug("Überprüfen"), "berpr_fen");
        assert_eq!(
            slug("one two three four five six seven"),
            "one_two_three_four_five_six"
        );
        assert_eq!(slug("!!!"), "feature");
    }
}

#[cfg(test)]
mod module_parent_tests {
    use super::super::ProjectFiles;
    use super::rust_module_parent;

    fn project(paths: &[&str]) -> ProjectFiles {
        ProjectFiles {
            paths: paths.iter().map(|p| p.to_string()).collect(),
            ..ProjectFiles::default()
        }
    }

    #[test]
    fn a_new_module_is_declared_by_its_parent() {
        let lib = project(&["src/lib.rs"]);
        assert_eq!(
            rust_module_parent("src/clamp.rs", &lib).as_deref(),
            Some("src/lib.rs")
        );
        let bin = project(&["src/main.rs"]);
        assert_eq!(
            rust_module_parent("src/clamp.rs", &bin).as_deref(),
            Some("src/main.rs")
        );
        assert_eq!(
            rust_module_parent("src/geo/area.rs", &lib).as_deref(),
            Some("src/geo.rs")
        );
        let nested = project(&["src/lib.rs", "src/geo/mod.rs"]);
        assert_eq!(
            rust_module_parent("src/geo/area.rs", &nested).as_deref(),
            Some("src/geo/mod.rs")
        );
        assert_eq!(
            rust_module_parent("src/geo/mod.rs", &lib).as_deref(),
            Some("src/lib.rs")
        );
        for root in [
            "src/lib.rs",
            "src/main.rs",
            "tests/clamp.rs",
            "src/clamp.py",
            "lib.rs",
        ] {
            assert_eq!(rust_module_parent(root, &lib), None, "{root}");
        }
    }
}
