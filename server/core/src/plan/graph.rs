//! Pass 4: the graph. Edges from `Depends on:`, setup tasks the project
//! needs, a topological order, file-ownership edges (two tasks that write one
//! file are ordered), complexity, overlap (verify-only) and waves.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::cycles::Cycle;
use super::{Complexity, Level, PlanError, PlanErrorKind, ProjectFiles, Setup, Task, TaskKind};
use crate::config::{Language, Layout};
use crate::model::Prd;
use crate::text::Span;

pub(super) fn build(
    prd: &Prd,
    cycles: &[Cycle<'_>],
    mut tasks: Vec<Task>,
    layout: &Layout,
    project: &ProjectFiles,
) -> (Vec<Task>, Vec<Vec<String>>, Vec<PlanError>) {
    let mut errors = Vec::new();
    // Edge (task, dependency) → the `Depends on:` reference it comes from.
    let mut reference: HashMap<(String, String), Span> = HashMap::new();
    requirement_edges(cycles, &mut tasks, &mut reference, &mut errors);
    let setup = setup_tasks(prd, &mut tasks, layout, project);
    let tasks: Vec<Task> = setup.into_iter().chain(tasks).collect();
    let Some(order) = topological_order(&tasks) else {
        errors.push(cycle_error(&tasks, &reference));
        return (tasks, Vec::new(), errors);
    };
    let mut tasks: Vec<Task> = order.into_iter().map(|i| tasks[i].clone()).collect();
    ownership_edges(&mut tasks);
    for task in &mut tasks {
        task.complexity = complexity(task);
    }
    mark_overlaps(&mut tasks);
    let waves = waves(&mut tasks);
    (tasks, waves, errors)
}

fn requirement_edges(
    cycles: &[Cycle<'_>],
    tasks: &mut [Task],
    reference: &mut HashMap<(String, String), Span>,
    errors: &mut Vec<PlanError>,
) {
    let mut keys_of: HashMap<String, Vec<String>> = HashMap::new();
    for task in tasks.iter() {
        if let Some(req) = &task.requirement {
            keys_of
                .entry(req.to_ascii_uppercase())
                .or_default()
                .push(task.key.clone());
        }
    }
    let cycle_of: HashMap<&str, &Cycle<'_>> = cycles.iter().map(|c| (c.id.as_str(), c)).collect();
    for task in tasks.iter_mut() {
        let Some(cycle) = task.requirement.as_deref().and_then(|r| cycle_of.get(r)) else {
            continue;
        };
        for dep in cycle.requirement.map_or(&[][..], |r| &r.depends_on) {
            match keys_of.get(&dep.value.to_ascii_uppercase()) {
                Some(keys) => {
                    for key in keys {
                        push_unique(&mut task.depends_on, key);
                        reference.insert((task.key.clone(), key.clone()), dep.span);
                    }
                }
                None if errors.iter().any(|e| e.span == dep.span) => {}
                None => errors.push(PlanError {
                    kind: PlanErrorKind::DanglingEdge,
                    span: dep.span,
                    message: format!(
                        "`{}` depends on `{}`, which has no tasks (it is not a requirement with acceptance criteria in this PRD)",
                        cycle.id, dep.value
                    ),
                }),
            }
        }
    }
}

fn push_unique(list: &mut Vec<String>, key: &str) {
    if !list.iter().any(|k| k == key) {
        list.push(key.to_string());
    }
}

fn setup_task(key: String, title: String, writes: Vec<String>, setup: Setup) -> Task {
    Task {
        writes,
        setup: Some(setup),
        ..Task::new(key, TaskKind::Setup, title)
    }
}

/// Setup the project lacks: its manifest, Python packages for new modules,
/// and dependencies a legacy spec lists but the manifest does not name.
fn setup_tasks(
    prd: &Prd,
    tasks: &mut [Task],
    layout: &Layout,
    project: &ProjectFiles,
) -> Vec<Task> {
    let mut setup = Vec::new();
    let manifest = match layout.language {
        Language::Python => "pyproject.toml",
        Language::Rust => "Cargo.toml",
        Language::Typescript => "package.json",
        Language::Go => "go.mod",
    };
    let has_work = tasks.iter().any(|t| t.kind == TaskKind::Implement);
    if has_work && !project.paths.contains(manifest) {
        let title = format!("Create the project manifest {manifest}");
        let file = manifest.to_string();
        setup.push(setup_task(
            "SETUP/manifest".into(),
            title,
            vec![file.clone()],
            Setup::CreateManifest { file },
        ));
    }
    if layout.language == Language::Python {
        setup.extend(python_packages(tasks, layout, project));
    }
    let changes = prd
        .plan
        .as_ref()
        .and_then(|p| p.dependency_changes.as_ref());
    if let Some(changes) = changes {
        let text = project
            .manifests
            .get(manifest)
            .map(String::as_str)
            .unwrap_or("");
        let missing: Vec<String> = changes
            .packages
            .iter()
            .filter(|p| !text.contains(package_name(p)))
            .cloned()
            .collect();
        if !missing.is_empty() {
            let title = format!("Add {} to {manifest}", missing.join(", "));
            let action = Setup::AddDependencies {
                manifest: manifest.to_string(),
                group: changes.extra.clone(),
                packages: missing,
            };
            setup.push(setup_task(
                "SETUP/dependencies".into(),
                title,
                vec![manifest.to_string()],
                action,
            ));
        }
    }
    // Setup tasks come first; the manifest before everything else.
    let manifest_key = setup
        .iter()
        .find(|s| s.key == "SETUP/manifest")
        .map(|s| s.key.clone());
    for task in setup.iter_mut().filter(|s| s.key != "SETUP/manifest") {
        if let Some(key) = &manifest_key {
            push_unique(&mut task.depends_on, key);
        }
    }
    for task in tasks.iter_mut().filter(|t| t.kind == TaskKind::Implement) {
        for s in &setup {
            let needed = match &s.setup {
                Some(Setup::CreatePackage { directory, .. }) => task
                    .impl_file
                    .as_deref()
                    .is_some_and(|f| f.starts_with(&format!("{directory}/"))),
                _ => true,
            };
            if needed {
                push_unique(&mut task.depends_on, &s.key);
            }
        }
    }
    setup
}

/// `requests>=2.31` → `requests`.
fn package_name(spec: &str) -> &str {
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    &spec[..end]
}

/// One setup task per top-level package missing `__init__.py` files.
fn python_packages(tasks: &[Task], layout: &Layout, project: &ProjectFiles) -> Vec<Task> {
    let root = layout.source_root.trim_end_matches('/');
    let mut packages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in tasks
        .iter()
        .filter(|t| t.kind == TaskKind::Implement)
        .filter_map(|t| t.impl_file.as_deref())
    {
        let Some((dir, _)) = file.rsplit_once('/') else {
            continue;
        };
        let inside = if root.is_empty() || root == "." {
            Some(dir)
        } else {
            dir.strip_prefix(root).map(|d| d.trim_start_matches('/'))
        };
        let Some(inside) = inside.filter(|d| !d.is_empty()) else {
            continue;
        };
        let base = if root.is_empty() || root == "." {
            String::new()
        } else {
            format!("{root}/")
        };
        let parts: Vec<&str> = inside.split('/').collect();
        let top = format!("{base}{}", parts[0]);
        for depth in 1..=parts.len() {
            let init = format!("{base}{}/__init__.py", parts[..depth].join("/"));
            if !project.paths.contains(&init) {
                packages.entry(top.clone()).or_default().insert(init);
            }
        }
    }
    packages
        .into_iter()
        .map(|(directory, files)| {
            let files: Vec<String> = files.into_iter().collect();
            let title = format!("Create the Python package {directory}");
            let action = Setup::CreatePackage {
                directory: directory.clone(),
                files: files.clone(),
            };
            setup_task(format!("SETUP/package:{directory}"), title, files, action)
        })
        .collect()
}

/// Kahn's algorithm, ties broken by position: indices in dependency order,
/// or `None` when the graph has a cycle.
fn topological_order(tasks: &[Task]) -> Option<Vec<usize>> {
    let index: HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.key.as_str(), i))
        .collect();
    let mut pending: Vec<usize> = tasks
        .iter()
        .map(|t| {
            t.depends_on
                .iter()
                .filter(|d| index.contains_key(d.as_str()))
                .count()
        })
        .collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
    for (i, task) in tasks.iter().enumerate() {
        for dep in &task.depends_on {
            if let Some(&d) = index.get(dep.as_str()) {
                dependents[d].push(i);
            }
        }
    }
    let mut ready: BTreeSet<usize> = (0..tasks.len()).filter(|&i| pending[i] == 0).collect();
    let mut order = Vec::with_capacity(tasks.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &j in &dependents[i] {
            pending[j] -= 1;
            if pending[j] == 0 {
                ready.insert(j);
            }
        }
    }
    (order.len() == tasks.len()).then_some(order)
}

/// Names one cycle: follows dependencies from a task left over by the sort.
fn cycle_error(tasks: &[Task], reference: &HashMap<(String, String), Span>) -> PlanError {
    let index: HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.key.as_str(), i))
        .collect();
    let done: BTreeSet<usize> = topological_prefix(tasks);
    let start = (0..tasks.len()).find(|i| !done.contains(i)).unwrap_or(0);
    let mut path = vec![start];
    let mut at = start;
    loop {
        let next = tasks[at]
            .depends_on
            .iter()
            .filter_map(|d| index.get(d.as_str()).copied())
            .find(|d| !done.contains(d));
        let Some(next) = next else { break };
        if let Some(pos) = path.iter().position(|&p| p == next) {
            path.drain(..pos);
            path.push(next);
            break;
        }
        path.push(next);
        at = next;
    }
    let names: Vec<&str> = path.iter().map(|&i| tasks[i].key.as_str()).collect();
    let span = path
        .windows(2)
        .find_map(|w| {
            reference
                .get(&(tasks[w[0]].key.clone(), tasks[w[1]].key.clone()))
                .copied()
        })
        .unwrap_or(tasks[start].source);
    PlanError {
        kind: PlanErrorKind::Cycle,
        span,
        message: format!(
            "dependency cycle: {}; remove one of these `Depends on:` references",
            names.join(" → ")
        ),
    }
}

/// Indices the sort can place before it gets stuck on a cycle.
fn topological_prefix(tasks: &[Task]) -> BTreeSet<usize> {
    let index: HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.key.as_str(), i))
        .collect();
    let mut done = BTreeSet::new();
    loop {
        let before = done.len();
        for (i, task) in tasks.iter().enumerate() {
            if !done.contains(&i)
                && task
                    .depends_on
                    .iter()
                    .all(|d| index.get(d.as_str()).is_none_or(|j| done.contains(j)))
            {
                done.insert(i);
            }
        }
        if done.len() == before {
            return done;
        }
    }
}

/// In dependency order, each task that writes a file depends on the previous
/// writer of that file, unless it already does (directly or through others).
fn ownership_edges(tasks: &mut [Task]) {
    let index: HashMap<String, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.key.clone(), i))
        .collect();
    let mut last_writer: HashMap<String, usize> = HashMap::new();
    for i in 0..tasks.len() {
        for file in tasks[i].writes.clone() {
            if let Some(&previous) = last_writer.get(&file)
                && !depends_transitively(tasks, &index, i, previous)
            {
                let key = tasks[previous].key.clone();
                tasks[i].depends_on.push(key.clone());
                tasks[i]
                    .hints
                    .push(format!("Runs after {key}: both write {file}."));
            }
            last_writer.insert(file, i);
        }
    }
}

/// Whether task `from` already waits for `target`, through any chain.
fn depends_transitively(
    tasks: &[Task],
    index: &HashMap<String, usize>,
    from: usize,
    target: usize,
) -> bool {
    let mut stack = vec![from];
    let mut seen = BTreeSet::new();
    while let Some(i) = stack.pop() {
        for dep in &tasks[i].depends_on {
            if let Some(&j) = index.get(dep) {
                if j == target {
                    return true;
                }
                if seen.insert(j) {
                    stack.push(j);
                }
            }
        }
    }
    false
}

const TOPICS: &[(&str, &[&str])] = &[
    (
        "security",
        &[
            "auth",
            "password",
            "token",
            "encrypt",
            "jwt",
            "permission",
            "secret",
            "signature",
        ],
    ),
    (
        "concurrency",
        &[
            "concurren",
            "parallel",
            "mutex",
            "deadlock",
            "race",
            "async",
            "thread",
            "simultaneous",
        ],
    ),
    (
        "persistence",
        &[
            "database",
            "transaction",
            "migrat",
            "persist",
            "restart",
            "durable",
        ],
    ),
    (
        "integration",
        &["http", "endpoint", "queue", "webhook", "smtp", "api"],
    ),
];

/// The score is 1, plus one per criterion, per conditional criterion
/// (IF/WHILE/WHERE) and per expected error, plus 2 per topic touched
/// (security, concurrency, persistence, integration), plus one per
/// dependency on another requirement (at most 3). Up to 4 is low, up to 8
/// medium, above that high.
fn complexity(task: &Task) -> Complexity {
    let conditional = task
        .tests
        .iter()
        .filter(|t| matches!(t.form.as_str(), "unwanted" | "state_driven" | "optional"))
        .count();
    let errors: usize = task.tests.iter().map(|t| t.expected_errors.len()).sum();
    let mut text = task.title.to_ascii_lowercase();
    for t in &task.tests {
        for part in [Some(&t.outcome), t.action.as_ref(), t.precondition.as_ref()]
            .into_iter()
            .flatten()
        {
            text.push(' ');
            text.push_str(&part.to_ascii_lowercase());
        }
    }
    let words: Vec<&str> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    // A topic counts when a word starts with one of its stems ("migrat" → "migrations").
    let topics = TOPICS
        .iter()
        .filter(|(_, stems)| stems.iter().any(|s| words.iter().any(|w| w.starts_with(s))))
        .count();
    let upstream = task
        .depends_on
        .iter()
        .filter(|d| !d.starts_with("SETUP/"))
        .count();
    let score = 1 + task.criteria.len() + conditional + errors + 2 * topics + upstream.min(3);
    let level = match score {
        0..=4 => Level::Low,
        5..=8 => Level::Medium,
        _ => Level::High,
    };
    Complexity {
        score: score as u32,
        level,
    }
}

/// A task whose every test repeats behaviour an earlier task already tests
/// becomes verify-only.
fn mark_overlaps(tasks: &mut [Task]) {
    let normalize = |s: &str| {
        s.to_ascii_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut seen: HashMap<String, String> = HashMap::new();
    for task in tasks.iter_mut().filter(|t| t.kind == TaskKind::Implement) {
        let behaviours: Vec<String> = task
            .tests
            .iter()
            .map(|t| {
                format!(
                    "{}|{}|{}",
                    normalize(t.precondition.as_deref().unwrap_or("")),
                    normalize(t.action.as_deref().unwrap_or("")),
                    normalize(&t.outcome)
                )
            })
            .collect();
        let covered_by: BTreeSet<&String> = behaviours.iter().filter_map(|b| seen.get(b)).collect();
        if !behaviours.is_empty() && behaviours.iter().all(|b| seen.contains_key(b)) {
            let keys: Vec<&str> = covered_by.iter().map(|k| k.as_str()).collect();
            task.hints.push(format!(
                "Verify only: its behaviour is already covered by {}.",
                keys.join(", ")
            ));
            task.kind = TaskKind::VerifyOnly;
            continue;
        }
        for b in behaviours {
            seen.entry(b).or_insert_with(|| task.key.clone());
        }
    }
}

/// Longest-path levels; reorders `tasks` by (wave, previous order).
fn waves(tasks: &mut Vec<Task>) -> Vec<Vec<String>> {
    let mut level: HashMap<String, usize> = HashMap::new();
    for task in tasks.iter() {
        let l = task
            .depends_on
            .iter()
            .filter_map(|d| level.get(d))
            .map(|l| l + 1)
            .max()
            .unwrap_or(0);
        level.insert(task.key.clone(), l);
    }
    let mut indexed: Vec<(usize, usize, Task)> = tasks
        .drain(..)
        .enumerate()
        .map(|(i, t)| (level[&t.key], i, t))
        .collect();
    indexed.sort_by_key(|(l, i, _)| (*l, *i));
    let mut waves: Vec<Vec<String>> = Vec::new();
    for (l, _, task) in indexed {
        if waves.len() <= l {
            waves.resize(l + 1, Vec::new());
        }
        waves[l].push(task.key.clone());
        tasks.push(task);
    }
    waves
}
