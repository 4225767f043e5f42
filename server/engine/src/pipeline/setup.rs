//! Setup tasks, done by the engine alone. The plan says exactly what to
//! write (the project's manifest, empty `__init__.py` files of new Python
//! packages, dependencies named in `pyproject.toml`), so no worker is asked
//! and no model writes them. One GREEN commit holds the files once the test
//! runner shows it still runs and collects (`tdd_gates::judge_setup`); MERGE
//! checks the same on the rebased tip.

use std::fs;
use std::path::Path;

use tdd_core::config::{Language, Layout};
use tdd_core::plan::Setup;

use super::*;

/// What a setup task's commit says it did, beside the test evidence.
const SETUP: &str = "setup";

impl Run<'_> {
    /// The setup stage unless the branch already holds it, then MERGE.
    pub(super) fn setup(&mut self, history: &StageHistory) -> Result<TaskStatus, Stop> {
        if !history.has(Stage::Green) {
            self.write_setup()?;
        }
        self.merge()
    }

    fn write_setup(&mut self) -> Result<(), Stop> {
        let stage = Stage::Green;
        let started_at = SystemTime::now();
        let written = match &self.task.setup {
            Some(setup) => {
                let name = project_name(self.ctx.project.root());
                write(&self.wt.path, setup, &self.ctx.layout, &name)
            }
            None => Err(format!(
                "the setup task {} says nothing to set up",
                self.task.key
            )),
        };
        let changes = match written {
            Ok(changes) => changes,
            Err(message) => {
                let stop = Stop {
                    stage,
                    kind: FailureKind::Violation,
                    message,
                };
                self.engine_record(stage, started_at, &stop);
                return Err(stop);
            }
        };
        let run = match self.test_run(stage, &[]) {
            Ok(run) => run,
            Err(stop) => {
                self.engine_record(stage, started_at, &stop);
                return Err(stop);
            }
        };
        let mut verdict = tdd_gates::judge_setup(&Evidence::new(run.report.clone()));
        stage::note_reused(&mut verdict, None, run.reused.as_deref());
        let wrote: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        verdict.evidence = match wrote.is_empty() {
            true => format!("nothing to write; {}", verdict.evidence),
            false => format!("wrote {}; {}", wrote.join(", "), verdict.evidence),
        };
        if verdict.outcome == Outcome::Passed
            && let Err(stop) = self.commit(stage, &verdict.evidence, &changes, Some(SETUP))
        {
            self.engine_record(stage, started_at, &stop);
            return Err(stop);
        }
        self.judged_engine_stage(stage, started_at, &run, &verdict, changes)
    }
}

/// Writes what `setup` asks for under `root` (a manifest names the project
/// `name`); the files it added or changed. A file already there is left
/// alone (the person may have made it since the plan). An error says what
/// could not be done and what to do.
pub(crate) fn write(
    root: &Path,
    setup: &Setup,
    layout: &Layout,
    name: &str,
) -> Result<Vec<Change>, String> {
    let mut changes = Vec::new();
    let mut create = |rel: &str, text: &str| -> Result<(), String> {
        let path = root.join(rel);
        if path.exists() {
            return Ok(());
        }
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        fs::write(&path, text).map_err(|e| format!("{rel}: {e}"))?;
        changes.push(Change::new(rel, ChangeKind::Added));
        Ok(())
    };
    match setup {
        Setup::CreateManifest { file } => {
            create(file, &manifest(layout, name))?;
            // Cargo needs a target before `cargo test` can build anything.
            let src = layout.source_root.trim_end_matches('/');
            if layout.language == Language::Rust
                && src == "src"
                && !root.join("src/main.rs").exists()
            {
                create("src/lib.rs", &format!("//! {name}.\n"))?;
            }
        }
        Setup::CreatePackage { files, .. } => {
            for file in files {
                create(file, "")?;
            }
        }
        Setup::AddDependencies {
            manifest,
            group,
            packages,
        } => {
            let path = root.join(manifest);
            let by_hand = || {
                format!(
                    "add {} to {manifest} and install them where the tests run, then retry \
                     this task",
                    packages.join(", ")
                )
            };
            if manifest != "pyproject.toml" {
                return Err(format!(
                    "the engine edits only pyproject.toml: {}",
                    by_hand()
                ));
            }
            let text =
                fs::read_to_string(&path).map_err(|e| format!("{manifest}: {e}; {}", by_hand()))?;
            let edited = add_dependencies(&text, group.as_deref(), packages)
                .map_err(|why| format!("{manifest}: {why}; {}", by_hand()))?;
            if edited != text {
                fs::write(&path, edited).map_err(|e| format!("{manifest}: {e}"))?;
                changes.push(Change::new(manifest.as_str(), ChangeKind::Modified));
            }
        }
    }
    Ok(changes)
}

/// The project directory's name as a package name: lowercase ASCII letters,
/// digits and `-`; `project` when nothing is left.
fn project_name(root: &Path) -> String {
    let raw = root
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let name: String = raw
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let name = name.trim_matches('-');
    match name.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => name.to_string(),
        Some(_) => format!("p-{name}"),
        None => "project".to_string(),
    }
}

/// A minimal manifest the language's test runner accepts. Python's puts the
/// source root on pytest's path, so tests import the modules the tasks write.
fn manifest(layout: &Layout, name: &str) -> String {
    let src = match layout.source_root.trim_end_matches('/') {
        "" => ".",
        src => src,
    };
    let tests = match layout.test_root.trim_end_matches('/') {
        "" => ".",
        tests => tests,
    };
    match layout.language {
        Language::Python => format!(
            "[project]\nname = \"{name}\"\nversion = \"0.1.0\"\nrequires-python = \">=3.9\"\n\
             dependencies = []\n\n[tool.pytest.ini_options]\npythonpath = [\"{src}\"]\n\
             testpaths = [\"{tests}\"]\n"
        ),
        Language::Rust => format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [dependencies]\n"
        ),
        Language::Typescript => format!(
            "{{\n  \"name\": \"{name}\",\n  \"version\": \"0.1.0\",\n  \"private\": true,\n  \
             \"type\": \"module\",\n  \"scripts\": {{ \"test\": \"vitest run\" }},\n  \
             \"devDependencies\": {{ \"vitest\": \"^3\" }}\n}}\n"
        ),
        Language::Go => format!("module {name}\n\ngo 1.19\n"),
    }
}

/// `packages` added to `pyproject.toml`'s `[project] dependencies` (or to
/// `[project.optional-dependencies] <group>`), keeping every other line as
/// it is. Packages whose name the list already has are not added again.
fn add_dependencies(
    text: &str,
    group: Option<&str>,
    packages: &[String],
) -> Result<String, String> {
    let parsed: toml::Table = text.parse().map_err(|e| format!("not valid TOML: {e}"))?;
    let project = parsed
        .get("project")
        .and_then(|p| p.as_table())
        .ok_or("it has no [project] table")?;
    let (section, key) = match group {
        None => ("project", "dependencies"),
        Some(group) => ("project.optional-dependencies", group),
    };
    let existing: Vec<String> = match group {
        None => project.get("dependencies"),
        Some(group) => project
            .get("optional-dependencies")
            .and_then(|o| o.get(group)),
    }
    .and_then(|v| v.as_array())
    .map(|a| a.iter().filter_map(|v| v.as_str()).map(name_of).collect())
    .unwrap_or_default();
    let new: Vec<&String> = packages
        .iter()
        .filter(|p| !existing.contains(&name_of(p)))
        .collect();
    if new.is_empty() {
        return Ok(text.to_string());
    }
    let items: Vec<String> = new.iter().map(|p| format!("{p:?}")).collect();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let header = format!("[{section}]");
    let start = lines.iter().position(|l| l.trim() == header);
    let edited = match start {
        None => {
            lines.push(String::new());
            lines.push(header);
            lines.push(format!("{key} = [{}]", items.join(", ")));
            true
        }
        Some(start) => {
            let end = lines[start + 1..]
                .iter()
                .position(|l| l.trim_start().starts_with('['))
                .map_or(lines.len(), |i| start + 1 + i);
            let at = (start + 1..end).find(|&i| {
                let line = lines[i].trim_start();
                line.strip_prefix(key)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            });
            match at {
                None => {
                    lines.insert(start + 1, format!("{key} = [{}]", items.join(", ")));
                    true
                }
                Some(at) => insert_items(&mut lines, at, &items),
            }
        }
    };
    if !edited {
        return Err(format!("could not find where `{key}` in [{section}] ends"));
    }
    let mut out = lines.join("\n");
    out.push('\n');
    // The edit must still be TOML and name every package.
    let check: toml::Table = out
        .parse()
        .map_err(|e| format!("the edit would not be valid TOML ({e})"))?;
    let list = match group {
        None => check["project"].get("dependencies"),
        Some(group) => check["project"]
            .get("optional-dependencies")
            .and_then(|o| o.get(group)),
    };
    let names: Vec<String> = list
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str()).map(name_of).collect())
        .unwrap_or_default();
    if !packages.iter().all(|p| names.contains(&name_of(p))) {
        return Err("the edit did not take".to_string());
    }
    Ok(out)
}

/// Adds `items` to the array that starts on line `at` (`key = [`): before
/// its closing `]`, on the same line or on a line of its own.
fn insert_items(lines: &mut Vec<String>, at: usize, items: &[String]) -> bool {
    let Some(close) = (at..lines.len()).find(|&i| lines[i].trim_end().ends_with(']')) else {
        return false;
    };
    let line = &lines[close];
    let Some(bracket) = line.rfind(']') else {
        return false;
    };
    let before = line[..bracket].trim_end();
    if close == at {
        // `key = []` or `key = ["a"]`.
        let empty = before.ends_with('[');
        let sep = if empty { "" } else { ", " };
        lines[close] = format!("{before}{sep}{}]", items.join(", "));
    } else {
        // A multi-line array: one item a line, indented like the others.
        let indent = lines[at + 1..close]
            .iter()
            .find(|l| !l.trim().is_empty())
            .map(|l| l[..l.len() - l.trim_start().len()].to_string())
            .unwrap_or_else(|| "    ".to_string());
        if !before.trim().is_empty() {
            // The last item shares the line with `]`.
            let comma = if before.ends_with(',') { "" } else { "," };
            lines[close] = format!("{before}{comma}");
            let mut rest: Vec<String> = items.iter().map(|i| format!("{indent}{i},")).collect();
            rest.push("]".to_string());
            for (n, l) in rest.into_iter().enumerate() {
                lines.insert(close + 1 + n, l);
            }
            return true;
        }
        if let Some(last) = (at + 1..close).rev().find(|&i| !lines[i].trim().is_empty())
            && !lines[last].trim_end().ends_with(',')
            && lines[last].trim() != "["
        {
            lines[last].push(',');
        }
        for (n, item) in items.iter().enumerate() {
            lines.insert(close + n, format!("{indent}{item},"));
        }
    }
    true
}

/// A requirement's package name, lowercased: `Requests>=2.31` → `requests`.
fn name_of(spec: &str) -> String {
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    spec[..end].to_ascii_lowercase().replace('_', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(text: &str, group: Option<&str>, packages: &[&str]) -> String {
        let packages: Vec<String> = packages.iter().map(|p| p.to_string()).collect();
        add_dependencies(text, group, &packages).unwrap()
    }

    #[test]
    fn dependencies_go_into_an_inline_list() {
        let text = "[project]\nname = \"x\"\ndependencies = []\n";
        assert_eq!(
            add(text, None, &["requests>=2.31"]),
            "[project]\nname = \"x\"\ndependencies = [\"requests>=2.31\"]\n"
        );
        let text = "[project]\ndependencies = [\"click\"]  \n[tool.x]\ny = 1\n";
        assert_eq!(
            add(text, None, &["rich"]),
            "[project]\ndependencies = [\"click\", \"rich\"]\n[tool.x]\ny = 1\n"
        );
    }

    #[test]
    fn dependencies_go_into_a_multi_line_list_with_its_indent() {
        let text = "[project]\ndependencies = [\n  \"click\"\n]\n\n[tool.pytest.ini_options]\n";
        assert_eq!(
            add(text, None, &["rich", "httpx"]),
            "[project]\ndependencies = [\n  \"click\",\n  \"rich\",\n  \"httpx\",\n]\n\n\
             [tool.pytest.ini_options]\n"
        );
        let text = "[project]\ndependencies = [\n    \"click\",\n    \"attrs\"]\n";
        assert_eq!(
            add(text, None, &["rich"]),
            "[project]\ndependencies = [\n    \"click\",\n    \"attrs\",\n    \"rich\",\n]\n"
        );
    }

    #[test]
    fn a_missing_key_or_group_is_added_and_present_names_are_not_repeated() {
        let text = "[project]\nname = \"x\"\n";
        assert_eq!(
            add(text, None, &["rich"]),
            "[project]\ndependencies = [\"rich\"]\nname = \"x\"\n"
        );
        assert_eq!(
            add(text, Some("dev"), &["pytest"]),
            "[project]\nname = \"x\"\n\n[project.optional-dependencies]\ndev = [\"pytest\"]\n"
        );
        let text = "[project]\ndependencies = [\"Rich>=13\"]\n";
        assert_eq!(add(text, None, &["rich"]), text);
    }

    #[test]
    fn a_manifest_the_engine_cannot_edit_is_refused_with_the_reason() {
        let refuse = |text: &str| add_dependencies(text, None, &["rich".into()]).unwrap_err();
        assert!(refuse("[tool.poetry]\nname = \"x\"\n").contains("no [project] table"));
        assert!(refuse("[project\n").contains("not valid TOML"));
    }

    #[test]
    fn names_are_package_names() {
        let root = std::env::temp_dir().join("My Project_2");
        fs::create_dir_all(&root).unwrap();
        assert_eq!(project_name(&root), "my-project-2");
        assert_eq!(name_of("Typing_Extensions[extra]>=4"), "typing-extensions");
    }
}
