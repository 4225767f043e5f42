//! Decomposition: a PRD model into a dependency graph of small TDD tasks, in
//! four deterministic passes (no model, no I/O):
//!
//! 1. `cycles`: requirements (and shared criteria) → TDD cycles, with the
//!    legacy format's TDD Cycle blocks contributing module hints and components;
//! 2. `tasks`: each cycle → tasks of at most `MAX_CRITERIA_PER_TASK` criteria,
//!    with their test and implementation files;
//! 3. `specs`: each criterion → a named test case (precondition, action,
//!    outcome, expected errors);
//! 4. `graph`: dependency and file-ownership edges, setup tasks, complexity,
//!    overlap (verify-only), waves.
//!
//! `check` then reports what makes the graph unusable, each error pointing
//! into the PRD. Task keys come from ids (`REQ-2/AC-2.1`), never positions.

mod check;
mod cycles;
mod graph;
pub mod replan;
mod specs;
mod tasks;

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Layout;
use crate::model::Prd;
use crate::text::Span;

/// A requirement's criteria are split into tasks of at most this many.
pub const MAX_CRITERIA_PER_TASK: usize = 3;

/// What the planner needs to know about the project on disk (gathered by the engine).
#[derive(Clone, Debug, Default)]
pub struct ProjectFiles {
    /// Relative paths of existing files and directories, `/`-separated.
    pub paths: BTreeSet<String>,
    /// Contents of dependency manifests that exist (`pyproject.toml`, `Cargo.toml`, …).
    pub manifests: BTreeMap<String, String>,
}

/// The decomposition of one PRD, as exported (`schemas/tasks.schema.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "tdd-orchestrator task graph")]
pub struct TaskGraph {
    /// The PRD's id from its front matter, if any.
    pub prd_id: Option<String>,
    pub prd_title: Option<String>,
    /// Tasks in dependency order (every task after the tasks it depends on).
    pub tasks: Vec<Task>,
    /// Task keys grouped by wave: a wave's tasks depend only on earlier waves.
    pub waves: Vec<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Write failing tests, then the code that passes them.
    Implement,
    /// Behaviour another task already covers: only check it.
    VerifyOnly,
    /// Prepare the project (a package, a manifest, dependencies) before other tasks.
    Setup,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Task {
    /// Stable key, from requirement and criterion ids: `REQ-2/AC-2.1`, `SHARED/AC-9`, `SETUP/package:src/app`.
    pub key: String,
    pub kind: TaskKind,
    pub title: String,
    /// The requirement the task implements, if any.
    pub requirement: Option<String>,
    /// Ids of the acceptance criteria this task proves.
    pub criteria: Vec<String>,
    pub test_file: Option<String>,
    pub impl_file: Option<String>,
    /// Every file the task may write; two tasks writing one file never run at once.
    pub writes: Vec<String>,
    /// The tests to write, one per criterion.
    pub tests: Vec<TestCase>,
    /// Keys of tasks that must be done first.
    pub depends_on: Vec<String>,
    pub complexity: Complexity,
    /// Guidance for the worker: why the task is shaped as it is.
    pub hints: Vec<String>,
    /// Components named by a legacy TDD cycle.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    /// The legacy cycle's `Tests: a-b` estimate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_tests: Option<(u32, u32)>,
    /// For setup tasks: what to create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<Setup>,
    /// Hash of everything above: a changed hash means the task was re-planned.
    pub content_hash: String,
    /// Where the task comes from in the PRD (for error messages).
    #[serde(skip)]
    pub source: Span,
}

impl Task {
    /// A task with nothing planned yet; the passes fill in the rest.
    pub fn new(key: String, kind: TaskKind, title: String) -> Task {
        Task {
            key,
            kind,
            title,
            requirement: None,
            criteria: Vec::new(),
            test_file: None,
            impl_file: None,
            writes: Vec::new(),
            tests: Vec::new(),
            depends_on: Vec::new(),
            complexity: Complexity {
                score: 1,
                level: Level::Low,
            },
            hints: Vec::new(),
            components: Vec::new(),
            expected_tests: None,
            setup: None,
            content_hash: String::new(),
            source: Span::default(),
        }
    }

    /// A task that writes its test in `test_file` and its code in
    /// `impl_file` (and nothing else): tests and benchmarks build tasks so.
    pub fn implementing(key: &str, title: &str, test_file: &str, impl_file: &str) -> Task {
        Task {
            test_file: Some(test_file.to_string()),
            impl_file: Some(impl_file.to_string()),
            writes: vec![test_file.to_string(), impl_file.to_string()],
            ..Task::new(key.to_string(), TaskKind::Implement, title.to_string())
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TestCase {
    /// The test's name in the project's language convention.
    pub name: String,
    pub criterion: String,
    /// The criterion's form: event_driven, unwanted, state_driven, optional, ubiquitous, given_when_then, shall.
    pub form: String,
    pub precondition: Option<String>,
    pub action: Option<String>,
    /// The observable outcome to assert.
    pub outcome: String,
    /// Error codes the criterion names (`book_unavailable`): the test expects these errors.
    pub expected_errors: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Complexity {
    /// 1 or more; see `graph::complexity` for how it is counted.
    pub score: u32,
    pub level: Level,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Low,
    Medium,
    High,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Setup {
    /// Create the project's dependency manifest.
    CreateManifest { file: String },
    /// Create a package: its `__init__.py` files (Python).
    CreatePackage {
        directory: String,
        files: Vec<String>,
    },
    /// Add dependencies the PRD names to the manifest.
    AddDependencies {
        manifest: String,
        group: Option<String>,
        packages: Vec<String>,
    },
}

/// Something that makes the graph unusable, pointing into the PRD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanError {
    pub kind: PlanErrorKind,
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanErrorKind {
    Cycle,
    DanglingEdge,
    DuplicateKey,
    UnsafePath,
    Unplannable,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub graph: TaskGraph,
    pub errors: Vec<PlanError>,
}

/// Runs the four passes and checks the result.
pub fn decompose(prd: &Prd, layout: &Layout, project: &ProjectFiles) -> Plan {
    let cycles = cycles::cycles(prd);
    let tasks: Vec<Task> = tasks::tasks(&cycles, layout)
        .into_iter()
        .map(|planned| {
            let mut task = planned.task;
            task.tests = planned
                .criteria
                .iter()
                .map(|c| specs::test_case(c, layout.language))
                .collect();
            task
        })
        .collect();
    let mut tasks = tasks;
    if layout.language == crate::config::Language::Rust {
        tasks::add_rust_module_parents(&mut tasks, project);
    }
    let mut errors = check::before_graph(prd, &cycles, &tasks);
    let (tasks, waves, graph_errors) = graph::build(prd, &cycles, tasks, layout, project);
    errors.extend(graph_errors);
    errors.sort_by_key(|e| (e.span.start, e.message.clone()));
    let mut tasks = tasks;
    for task in &mut tasks {
        task.content_hash = content_hash(task);
    }
    let graph = TaskGraph {
        prd_id: prd.meta.id.as_ref().map(|s| s.value.clone()),
        prd_title: prd.meta.title.as_ref().map(|s| s.value.clone()),
        tasks,
        waves,
    };
    Plan { graph, errors }
}

/// A short, stable hash of a task's planned content (key and hash excluded).
pub fn content_hash(task: &Task) -> String {
    let mut copy = task.clone();
    copy.content_hash = String::new();
    let json = serde_json::to_string(&copy).expect("tasks serialise");
    hex(&Sha256::digest(json.as_bytes())[..8])
}

/// A short hash of any text (a PRD's content).
pub fn text_hash(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes())[..8])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The task-graph schema as pretty JSON, as checked in under `schemas/`.
pub fn tasks_schema_json() -> String {
    crate::schema::pretty(schemars::schema_for!(TaskGraph))
}
