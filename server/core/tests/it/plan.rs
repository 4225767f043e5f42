//! Decomposition: coverage, ordering and determinism on the real PRDs (the
//! canonical example, the `init-prd` template, a legacy spec), and snapshots
//! of every pass and every graph error (fixtures in tests/plan/).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;
use std::path::PathBuf;

use tdd_core::analysis::{Options, analyze};
use tdd_core::config::{Config, Language, Layout, ProjectConfig};
use tdd_core::plan::{Plan, ProjectFiles, TaskGraph, decompose};
use tdd_core::text::{ColumnUnit, LineIndex};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn layout(language: Language) -> Layout {
    ProjectConfig {
        language,
        ..Config::default().project
    }
    .layout()
}

fn plan_of(name: &str, text: &str, language: Language) -> Plan {
    let analysis = analyze(name, text, &Options::default());
    decompose(&analysis.prd, &layout(language), &ProjectFiles::default())
}

fn real_prds() -> Vec<(String, String)> {
    let read = |p: &str| std::fs::read_to_string(repo().join(p)).unwrap();
    vec![
        (
            "library-loans.prd.md".into(),
            read("examples/library-loans.prd.md"),
        ),
        (
            "template.prd.md".into(),
            tdd_core::template::prd_template("Greeter", "python"),
        ),
        (
            "library_spec.txt".into(),
            read("tests/corpus/legacy/library_spec.txt"),
        ),
    ]
}

/// Every task's dependencies, followed to the end.
fn ancestors(graph: &TaskGraph) -> HashMap<&str, BTreeSet<&str>> {
    let mut out: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for task in &graph.tasks {
        let mut all = BTreeSet::new();
        for dep in &task.depends_on {
            all.insert(dep.as_str());
            all.extend(
                out.get(dep.as_str())
                    .expect("dependencies come first")
                    .iter()
                    .copied(),
            );
        }
        out.insert(&task.key, all);
    }
    out
}

#[test]
fn real_prds_decompose_with_full_coverage_and_correct_order() {
    for (name, text) in real_prds() {
        let analysis = analyze(&name, &text, &Options::default());
        let plan = decompose(
            &analysis.prd,
            &layout(Language::Python),
            &ProjectFiles::default(),
        );
        assert!(plan.errors.is_empty(), "{name}: {:?}", plan.errors);
        let graph = &plan.graph;

        // Every acceptance criterion is covered by exactly one task.
        let mut covered: HashMap<&str, Vec<&str>> = HashMap::new();
        for task in &graph.tasks {
            for id in &task.criteria {
                covered.entry(id).or_default().push(&task.key);
            }
        }
        for (_, criterion) in analysis.prd.criteria() {
            let id = &criterion.id.as_ref().unwrap().value;
            let owners = covered.get(id.as_str()).cloned().unwrap_or_default();
            assert_eq!(owners.len(), 1, "{name}: {id} covered by {owners:?}");
        }
        assert_eq!(
            covered.len(),
            analysis.prd.criteria().count(),
            "{name}: tasks cover unknown criteria"
        );

        // Dependencies follow `Depends on:` and file ownership.
        let ancestors = ancestors(graph);
        for req in &analysis.prd.requirements {
            for dep in &req.depends_on {
                for task in graph
                    .tasks
                    .iter()
                    .filter(|t| t.requirement.as_deref() == Some(&req.id.value))
                {
                    for upstream in graph
                        .tasks
                        .iter()
                        .filter(|t| t.requirement.as_deref() == Some(&dep.value))
                    {
                        assert!(
                            ancestors[task.key.as_str()].contains(upstream.key.as_str()),
                            "{name}: {} must follow {}",
                            task.key,
                            upstream.key
                        );
                    }
                }
            }
        }
        for (i, a) in graph.tasks.iter().enumerate() {
            for b in &graph.tasks[i + 1..] {
                if a.writes.iter().any(|f| b.writes.contains(f)) {
                    assert!(
                        ancestors[b.key.as_str()].contains(a.key.as_str()),
                        "{name}: {} and {} write one file unordered",
                        a.key,
                        b.key
                    );
                }
            }
        }
        // Waves only point backwards.
        let wave_of: HashMap<&str, usize> = graph
            .waves
            .iter()
            .enumerate()
            .flat_map(|(w, keys)| keys.iter().map(move |k| (k.as_str(), w)))
            .collect();
        for task in &graph.tasks {
            for dep in &task.depends_on {
                assert!(
                    wave_of[dep.as_str()] < wave_of[task.key.as_str()],
                    "{name}: {} → {dep}",
                    task.key
                );
            }
        }

        // Two runs give byte-identical JSON.
        let again = plan_of(&name, &text, Language::Python);
        assert_eq!(
            serde_json::to_string(&plan.graph).unwrap(),
            serde_json::to_string(&again.graph).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn existing_project_files_need_no_setup() {
    let text = std::fs::read_to_string(repo().join("examples/library-loans.prd.md")).unwrap();
    let analysis = analyze("x.prd.md", &text, &Options::default());
    let mut project = ProjectFiles::default();
    for path in [
        "pyproject.toml",
        "src",
        "src/library",
        "src/library/__init__.py",
    ] {
        project.paths.insert(path.to_string());
    }
    let plan = decompose(&analysis.prd, &layout(Language::Python), &project);
    let setup: Vec<&str> = plan
        .graph
        .tasks
        .iter()
        .filter(|t| t.key.starts_with("SETUP/"))
        .map(|t| t.key.as_str())
        .collect();
    assert!(setup.is_empty(), "{setup:?}");
}

/// A compact, reviewable rendering of a plan: errors with positions, then
/// each task with everything the passes computed, then the waves.
fn render(text: &str, plan: &Plan) -> String {
    let index = LineIndex::new(text);
    let mut out = String::new();
    for e in &plan.errors {
        let lc = index.line_col(text, e.span.start, ColumnUnit::Char);
        let _ = writeln!(
            out,
            "error {}:{} {:?}: {}",
            lc.line + 1,
            lc.col + 1,
            e.kind,
            e.message
        );
    }
    for t in &plan.graph.tasks {
        let _ = writeln!(
            out,
            "task {} [{:?}, {:?} {}] {}",
            t.key, t.kind, t.complexity.level, t.complexity.score, t.title
        );
        let _ = writeln!(out, "    criteria: {}", t.criteria.join(", "));
        let _ = writeln!(
            out,
            "    files: test={:?} impl={:?} writes={:?}",
            t.test_file, t.impl_file, t.writes
        );
        if !t.depends_on.is_empty() {
            let _ = writeln!(out, "    depends on: {}", t.depends_on.join(", "));
        }
        for c in &t.tests {
            let _ = writeln!(
                out,
                "    test {} ({}): given={:?} when={:?} then={:?} errors={:?}",
                c.name, c.form, c.precondition, c.action, c.outcome, c.expected_errors
            );
        }
        for h in &t.hints {
            let _ = writeln!(out, "    hint: {h}");
        }
        if let Some(setup) = &t.setup {
            let _ = writeln!(out, "    setup: {}", serde_json::to_string(setup).unwrap());
        }
        if !t.components.is_empty() || t.expected_tests.is_some() {
            let _ = writeln!(
                out,
                "    components: {:?} expected tests: {:?}",
                t.components, t.expected_tests
            );
        }
    }
    for (i, wave) in plan.graph.waves.iter().enumerate() {
        let _ = writeln!(out, "wave {i}: {}", wave.join(", "));
    }
    out
}

#[test]
fn plan_snapshots() {
    let dir = repo().join("tests/plan");
    let mut files: Vec<(String, String, Language)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md" || e == "txt"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
                Language::Python,
            )
        })
        .collect();
    files.extend(
        real_prds()
            .into_iter()
            .map(|(n, t)| (n, t, Language::Python)),
    );
    // The same requirements in every language: derived file names and test names.
    let passes = std::fs::read_to_string(dir.join("passes.prd.md")).unwrap();
    for language in [Language::Rust, Language::Typescript, Language::Go] {
        files.push((
            format!("passes.{}.prd.md", language.as_str()),
            passes.clone(),
            language,
        ));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, text, language) in files {
        let plan = plan_of(&name, &text, language);
        insta::with_settings!({ snapshot_path => dir.join("snapshots"), prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(name.clone(), render(&text, &plan));
        });
    }
}
