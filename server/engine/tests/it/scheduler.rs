//! The scheduler: dispatch logic with a fake task runner (no git, an injected
//! clock), then a whole graph of Python tasks through the real pipeline with
//! real git and real pytest.
//!
//! pytest comes from the repository's `.venv` (scripts/test installs it) or
//! `TDD_TEST_VENV`. Without it the real-pipeline test fails: a skipped check
//! is not a pass.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use tdd_core::breaker::{Millis, Scope, State};
use tdd_core::plan::{Task, TaskGraph, TaskKind};
use tdd_engine::pipeline::{FailureKind, PipelineContext};
use tdd_engine::scheduler::{
    Ran, SchedulerOptions, SchedulerReport, TaskEnd, TaskFailure, TaskRunner, run, run_pipeline,
};
use tdd_gates::Stage;
use tdd_workers::process::CancelToken;
use tdd_workers::{ScriptedWorker, Worker};

use crate::support::*;
use tdd_test_support::succeeded;

// ---------------------------------------------------------------------------
// Graphs

fn task(key: &str, deps: &[&str], writes: &[&str]) -> Task {
    let file = |prefix: &str| {
        writes
            .iter()
            .find(|w| w.starts_with(prefix))
            .map(|w| w.to_string())
    };
    Task {
        test_file: file("tests/"),
        impl_file: file("src/"),
        writes: writes.iter().map(|w| w.to_string()).collect(),
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        ..Task::new(key.to_string(), TaskKind::Implement, key.to_string())
    }
}

/// A graph in the given order, with waves from the dependencies.
fn graph(tasks: Vec<Task>) -> TaskGraph {
    let mut wave_of: HashMap<String, usize> = HashMap::new();
    let mut waves: Vec<Vec<String>> = Vec::new();
    for t in &tasks {
        let w = t
            .depends_on
            .iter()
            .map(|d| wave_of[d] + 1)
            .max()
            .unwrap_or(0);
        wave_of.insert(t.key.clone(), w);
        if waves.len() <= w {
            waves.resize(w + 1, Vec::new());
        }
        waves[w].push(t.key.clone());
    }
    TaskGraph {
        prd_id: None,
        prd_title: None,
        tasks,
        waves,
    }
}

fn own_files(key: &str) -> Vec<String> {
    let name = key.to_lowercase().replace(['/', '-', '.'], "_");
    vec![format!("src/{name}.py"), format!("tests/test_{name}.py")]
}

fn simple(key: &str, deps: &[&str]) -> Task {
    let files = own_files(key);
    let writes: Vec<&str> = files.iter().map(String::as_str).collect();
    task(key, deps, &writes)
}

fn workers(names: &[&str]) -> Vec<Box<dyn Worker>> {
    names
        .iter()
        .map(|n| Box::new(ScriptedWorker::new(*n)) as Box<dyn Worker>)
        .collect()
}

fn failure(stage: Stage, kind: FailureKind) -> TaskFailure {
    TaskFailure {
        stage,
        kind,
        reason: format!("{} failed", stage.as_str()),
    }
}

// ---------------------------------------------------------------------------
// A fake runner and clock

type Behaviour = dyn Fn(&Task, &str, &CancelToken) -> Result<(), TaskFailure> + Sync;

struct FakeRunner {
    behaviour: Box<Behaviour>,
    clock: Arc<AtomicU64>,
    /// (task, worker, clock at start), in start order.
    starts: Mutex<Vec<(String, String, u64)>>,
    finished: AtomicUsize,
}

impl FakeRunner {
    fn new(
        clock: Arc<AtomicU64>,
        behaviour: impl Fn(&Task, &str, &CancelToken) -> Result<(), TaskFailure> + Sync + 'static,
    ) -> FakeRunner {
        FakeRunner {
            behaviour: Box::new(behaviour),
            clock,
            starts: Mutex::new(Vec::new()),
            finished: AtomicUsize::new(0),
        }
    }

    fn started(&self) -> usize {
        self.starts.lock().unwrap().len()
    }
}

impl TaskRunner for FakeRunner {
    fn run_task(&self, task: &Task, worker: &mut dyn Worker, cancel: &CancelToken) -> Ran {
        self.starts.lock().unwrap().push((
            task.key.clone(),
            worker.name().to_string(),
            self.clock.load(Ordering::SeqCst),
        ));
        let result = (self.behaviour)(task, worker.name(), cancel);
        self.finished.fetch_add(1, Ordering::SeqCst);
        Ran {
            result,
            outcome: None,
        }
    }
}

fn options(clock: &Arc<AtomicU64>) -> SchedulerOptions {
    let clock = clock.clone();
    SchedulerOptions {
        clock: Arc::new(move || Millis(clock.load(Ordering::SeqCst))),
        poll: Duration::from_millis(2),
        ..SchedulerOptions::default()
    }
}

/// Whether `cond` came true within 10 s.
fn wait_until(what: &str, cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        if Instant::now() >= deadline {
            eprintln!("timed out waiting for {what}");
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

fn ends(report: &SchedulerReport) -> String {
    report
        .tasks
        .iter()
        .map(|t| format!("{}: {:?} ({:?})\n", t.key, t.end, t.worker))
        .collect()
}

// ---------------------------------------------------------------------------
// Dispatch logic

#[test]
fn a_failing_task_blocks_only_its_dependents_and_setup_tasks_run_first() {
    let mut setup = simple("SETUP/pkg", &[]);
    setup.kind = TaskKind::Setup;
    let g = graph(vec![
        setup,
        simple("A", &[]),
        simple("B", &["A"]),
        simple("C", &["B"]),
        simple("D", &[]),
        simple("E", &["D"]),
        simple("F", &["SETUP/pkg"]),
        simple("G", &["E", "C"]),
    ]);
    let clock = Arc::new(AtomicU64::new(0));
    let runner = FakeRunner::new(clock.clone(), |task, _, _| {
        std::thread::sleep(Duration::from_millis(5));
        if task.key == "A" {
            Err(failure(Stage::Green, FailureKind::Violation))
        } else {
            Ok(())
        }
    });
    let report = run(
        &runner,
        &g,
        workers(&["w1", "w2"]),
        &options(&clock),
        &CancelToken::default(),
    );
    let all = ends(&report);
    assert_eq!(
        report.end("A"),
        Some(&TaskEnd::Failed(failure(
            Stage::Green,
            FailureKind::Violation
        ))),
        "{all}"
    );
    for key in ["B", "C", "G"] {
        assert_eq!(
            report.end(key),
            Some(&TaskEnd::Blocked {
                by: "A".to_string()
            }),
            "{key}\n{all}"
        );
    }
    for key in ["D", "E", "F", "SETUP/pkg"] {
        assert_eq!(report.end(key), Some(&TaskEnd::Merged), "{key}\n{all}");
    }
    // F waited for its setup task.
    assert!(report.span("F").unwrap().started >= report.span("SETUP/pkg").unwrap().ended);
    // Blocked tasks never ran.
    let ran: Vec<String> = runner
        .starts
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.0.clone())
        .collect();
    let mut sorted = ran.clone();
    sorted.sort();
    assert_eq!(sorted, ["A", "D", "E", "F", "SETUP/pkg"]);
    assert_eq!(report.timeline.len(), 5);
    let per_worker: usize = report.workers.iter().map(|w| w.tasks.len()).sum();
    assert_eq!(per_worker, 5);
    assert!(!report.cancelled);
    // E started after D ended.
    assert!(report.span("E").unwrap().started >= report.span("D").unwrap().ended);
}

#[test]
fn a_worker_with_three_provider_outages_is_paused_while_the_others_go_on() {
    let keys: Vec<String> = (0..30).map(|i| format!("T{i}")).collect();
    let g = graph(keys.iter().map(|k| simple(k, &[])).collect());
    let clock = Arc::new(AtomicU64::new(1_000));
    let runner = FakeRunner::new(clock.clone(), |_, worker, _| {
        if worker == "flaky" {
            Err(failure(Stage::Red, FailureKind::ProviderOutage))
        } else {
            std::thread::sleep(Duration::from_millis(10));
            Ok(())
        }
    });
    let report = run(
        &runner,
        &g,
        workers(&["flaky", "good1", "good2"]),
        &options(&clock),
        &CancelToken::default(),
    );
    let all = ends(&report);
    let flaky = &report.workers[0];
    assert_eq!(flaky.name, "flaky");
    assert_eq!(flaky.tasks.len(), 3, "{:?}\n{all}", report.workers);
    // An outage is not the task's fault: each task the flaky worker took went
    // back to pending and a good worker merged it.
    let merged = report
        .tasks
        .iter()
        .filter(|t| t.end == TaskEnd::Merged)
        .count();
    assert_eq!(merged, 30, "{all}");
    for key in &flaky.tasks {
        assert!(
            report.workers[1..].iter().any(|w| w.tasks.contains(key)),
            "{key} was not taken again: {:?}",
            report.workers
        );
    }
    assert!(
        report.breakers.state(Scope::Worker, "flaky").is_open(),
        "{:?}",
        report.breakers
    );
    assert_eq!(
        report.breakers.state(Scope::System, "system"),
        State::Closed
    );
    assert!(
        flaky
            .last_refusal
            .as_deref()
            .is_some_and(|r| r.contains("flaky")),
        "{flaky:?}"
    );
    assert!(
        report
            .breaker_changes
            .iter()
            .any(|c| c.scope == Scope::Worker && c.name == "flaky" && c.breaker.state().is_open()),
        "{:?}",
        report.breaker_changes
    );
}

#[test]
fn an_open_system_breaker_stops_dispatch_until_the_clock_passes_its_recovery() {
    let keys: Vec<String> = (0..10).map(|i| format!("T{i}")).collect();
    let g = graph(keys.iter().map(|k| simple(k, &[])).collect());
    let clock = Arc::new(AtomicU64::new(0));
    let opts = options(&clock);
    let pause = opts.pause.clone();
    let barrier = Barrier::new(2);
    let failed_once = Mutex::new(std::collections::HashSet::new());
    let runner = FakeRunner::new(clock.clone(), move |task, _, _| {
        let first = failed_once.lock().unwrap().insert(task.key.clone());
        if first && (task.key == "T0" || task.key == "T1") {
            // Both workers fail at once; nothing else starts before both
            // failures are recorded.
            barrier.wait();
            pause.pause();
            barrier.wait();
            Err(failure(Stage::Red, FailureKind::ProviderOutage))
        } else {
            Ok(())
        }
    });
    let report = std::thread::scope(|s| {
        let handle = s.spawn(|| {
            run(
                &runner,
                &g,
                workers(&["a", "b"]),
                &opts,
                &CancelToken::default(),
            )
        });
        // Asserted after the run: a panic here would leave it waiting forever.
        let both_failed = wait_until("both outages", || {
            runner.finished.load(Ordering::SeqCst) == 2
        });
        std::thread::sleep(Duration::from_millis(100));
        opts.pause.resume();
        std::thread::sleep(Duration::from_millis(150));
        let while_open = runner.started();
        clock.store(599_999, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(150));
        let before_recovery = runner.started();
        clock.store(600_000, Ordering::SeqCst);
        let report = handle.join().unwrap();
        assert!(both_failed, "the two outages never happened");
        assert_eq!(while_open, 2, "dispatched while the system is open");
        assert_eq!(before_recovery, 2, "dispatched before the recovery time");
        report
    });
    let all = ends(&report);
    // The outages were not the tasks' fault: they went back to pending and
    // merged after the recovery, like the rest.
    for key in ["T0", "T1"] {
        assert_eq!(report.end(key), Some(&TaskEnd::Merged), "{all}");
        let runs: Vec<_> = report.timeline.iter().filter(|s| s.task == key).collect();
        assert_eq!(runs.len(), 2, "{runs:?}");
        assert!(runs[1].clock_started >= Millis(600_000), "{runs:?}");
    }
    for key in &keys[2..] {
        assert_eq!(report.end(key), Some(&TaskEnd::Merged), "{all}");
        assert!(report.span(key).unwrap().clock_started >= Millis(600_000));
    }
    assert!(
        report
            .breaker_changes
            .iter()
            .any(|c| c.scope == Scope::System && c.breaker.state().is_open()),
        "{:?}",
        report.breaker_changes
    );
    assert_eq!(
        report.breakers.state(Scope::System, "system"),
        State::Closed
    );
    let refused = report
        .workers
        .iter()
        .filter_map(|w| w.last_refusal.as_deref())
        .any(|r| r.contains("system"));
    assert!(refused, "{:?}", report.workers);
}

#[test]
fn pause_finishes_running_tasks_and_starts_none_until_resumed() {
    let keys: Vec<String> = (0..6).map(|i| format!("T{i}")).collect();
    let g = graph(keys.iter().map(|k| simple(k, &[])).collect());
    let clock = Arc::new(AtomicU64::new(0));
    let opts = options(&clock);
    let pause = opts.pause.clone();
    let runner = FakeRunner::new(clock.clone(), move |task, _, _| {
        if task.key == "T0" {
            pause.pause();
            std::thread::sleep(Duration::from_millis(30));
        }
        Ok(())
    });
    let report = std::thread::scope(|s| {
        let handle = s.spawn(|| {
            run(
                &runner,
                &g,
                workers(&["solo"]),
                &opts,
                &CancelToken::default(),
            )
        });
        wait_until("T0 to finish", || {
            runner.finished.load(Ordering::SeqCst) == 1
        });
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(runner.started(), 1, "a task started while paused");
        opts.pause.resume();
        handle.join().unwrap()
    });
    assert!(
        report.tasks.iter().all(|t| t.end == TaskEnd::Merged),
        "{}",
        ends(&report)
    );
}

#[test]
fn cancel_starts_no_more_tasks_and_reaches_the_runner() {
    let keys: Vec<String> = (0..6).map(|i| format!("T{i}")).collect();
    let g = graph(keys.iter().map(|k| simple(k, &[])).collect());
    let clock = Arc::new(AtomicU64::new(0));
    let cancel = CancelToken::default();
    let saw_cancel = Arc::new(AtomicUsize::new(0));
    let saw = saw_cancel.clone();
    let runner = FakeRunner::new(clock.clone(), move |task, _, token| {
        if task.key == "T1" {
            token.cancel();
        }
        if token.is_cancelled() {
            saw.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    });
    let report = run(&runner, &g, workers(&["solo"]), &options(&clock), &cancel);
    assert!(report.cancelled);
    assert_eq!(saw_cancel.load(Ordering::SeqCst), 1);
    assert_eq!(report.end("T0"), Some(&TaskEnd::Merged));
    assert_eq!(report.end("T1"), Some(&TaskEnd::Merged));
    for key in &keys[2..] {
        assert!(
            matches!(report.end(key), Some(TaskEnd::NotStarted { reason }) if reason.contains("cancel")),
            "{}",
            ends(&report)
        );
    }
}

#[test]
fn tasks_writing_one_file_never_run_at_once_and_order_follows_the_graph() {
    let g = graph(vec![
        task("A", &[], &["src/shared.py", "tests/test_a.py"]),
        task("B", &[], &["src/shared.py", "tests/test_b.py"]),
        task("C", &[], &["src/c.py", "tests/test_c.py"]),
        task("D", &[], &["src/shared.py", "tests/test_d.py"]),
    ]);
    let clock = Arc::new(AtomicU64::new(0));
    let runner = FakeRunner::new(clock.clone(), |_, _, _| {
        std::thread::sleep(Duration::from_millis(20));
        Ok(())
    });
    let report = run(
        &runner,
        &g,
        workers(&["w1", "w2", "w3"]),
        &options(&clock),
        &CancelToken::default(),
    );
    let span = |k: &str| report.span(k).unwrap().clone();
    assert!(!span("A").overlaps(&span("B")));
    assert!(!span("A").overlaps(&span("D")));
    assert!(!span("B").overlaps(&span("D")));
    // Graph order among the owners of the shared file.
    assert!(span("B").started >= span("A").ended);
    assert!(span("D").started >= span("B").ended);
    // C ran alongside A.
    assert!(span("A").overlaps(&span("C")));
}

// ---------------------------------------------------------------------------
// The real pipeline: git, worktrees, pytest

const PRD: &str = "mods";

fn context(root: &Path) -> PipelineContext {
    let mut ctx = python_context(root);
    ctx.prd = PRD.to_string();
    ctx.max_fix_attempts = 0;
    ctx
}

/// Module tasks `M0`..`M15`: `f_i(x)` is `x + i`, plus the `f` of each
/// dependency (imported from its module).
const MODULES: usize = 16;

fn module_deps(i: usize) -> Vec<usize> {
    match i {
        5..=7 => vec![i - 5],
        10 | 11 => vec![i - 4, i - 8],
        14 | 15 => vec![i - 3],
        _ => Vec::new(),
    }
}

fn module_value(i: usize, x: i64) -> i64 {
    x + i as i64
        + module_deps(i)
            .into_iter()
            .map(|d| module_value(d, x))
            .sum::<i64>()
}

/// Files each task's RED and GREEN write, by key.
struct Scripted {
    key: String,
    writes: Vec<String>,
    deps: Vec<String>,
    red: (String, String),
    green: (String, String),
}

fn scripted_tasks() -> Vec<Scripted> {
    let mut out = Vec::new();
    // Two pairs sharing a module: the second of each pair writes the whole
    // module (its function and the first one's); ownership keeps them apart
    // and the graph's order runs the first one first.
    for pair in ["a", "b"] {
        for n in 1..=2 {
            let module = format!("src/shared_{pair}.py");
            let test = format!("tests/test_shared_{pair}{n}.py");
            let body: String = (1..=n)
                .map(|k| format!("def {pair}{k}():\n    return {k}\n\n\n"))
                .collect();
            out.push(Scripted {
                key: format!("SHARED-{}/AC-{n}", pair.to_uppercase()),
                writes: vec![module.clone(), test.clone()],
                deps: Vec::new(),
                red: (
                    test,
                    format!(
                        "from shared_{pair} import {pair}{n}\n\n\ndef test_{pair}{n}():\n    assert {pair}{n}() == {n}\n"
                    ),
                ),
                green: (module, body.trim_end().to_string() + "\n"),
            });
        }
    }
    for i in 0..MODULES {
        let module = format!("src/m_{i}.py");
        let test = format!("tests/test_m_{i}.py");
        let deps = module_deps(i);
        let mut source: String = deps
            .iter()
            .map(|d| format!("from m_{d} import f_{d}\n"))
            .collect();
        if !source.is_empty() {
            source.push_str("\n\n");
        }
        let sum: String = deps.iter().map(|d| format!(" + f_{d}(x)")).collect();
        source.push_str(&format!("def f_{i}(x):\n    return x + {i}{sum}\n"));
        out.push(Scripted {
            key: format!("REQ-{i}/AC-{i}.1"),
            writes: vec![module.clone(), test.clone()],
            deps: deps.iter().map(|d| format!("REQ-{d}/AC-{d}.1")).collect(),
            red: (
                test,
                format!(
                    "from m_{i} import f_{i}\n\n\ndef test_f_{i}():\n    assert f_{i}(1) == {}\n",
                    module_value(i, 1)
                ),
            ),
            green: (module, source),
        });
    }
    out
}

#[test]
fn twenty_python_tasks_merge_in_parallel_with_four_workers() {
    let root = user_repo("repo");
    let user_before = user_state(&root);
    let ctx = context(&root);
    let scripted = scripted_tasks();
    assert!(scripted.len() >= 20);
    let g = graph(
        scripted
            .iter()
            .map(|s| {
                let deps: Vec<&str> = s.deps.iter().map(String::as_str).collect();
                let writes: Vec<&str> = s.writes.iter().map(String::as_str).collect();
                task(&s.key, &deps, &writes)
            })
            .collect(),
    );
    let pool: Vec<Box<dyn Worker>> = (1..=4)
        .map(|n| {
            let mut w = ScriptedWorker::new(format!("worker-{n}"));
            for s in &scripted {
                w = w.write(&s.key, Stage::Red, 1, &s.red.0, &s.red.1).write(
                    &s.key,
                    Stage::Green,
                    1,
                    &s.green.0,
                    &s.green.1,
                );
            }
            Box::new(w) as Box<dyn Worker>
        })
        .collect();

    let started = Instant::now();
    let report = run_pipeline(
        &ctx,
        &g,
        pool,
        &SchedulerOptions::default(),
        &CancelToken::default(),
    );
    let elapsed = started.elapsed();

    // Every task merged.
    let failures: Vec<String> = report
        .tasks
        .iter()
        .filter(|t| t.end != TaskEnd::Merged)
        .map(|t| {
            let attempts: Vec<String> = t
                .outcome
                .iter()
                .flat_map(|o| &o.attempts)
                .map(|a| {
                    format!(
                        "  {} #{} {:?}: {}",
                        a.stage.as_str(),
                        a.attempt,
                        a.outcome,
                        a.evidence
                    )
                })
                .collect();
            format!("{}: {:?}\n{}", t.key, t.end, attempts.join("\n"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(report.timeline.len(), scripted.len());

    // At some moment at least two tasks ran at once.
    let spans = &report.timeline;
    let parallel = spans
        .iter()
        .enumerate()
        .any(|(i, a)| spans[i + 1..].iter().any(|b| a.overlaps(b)));
    assert!(parallel, "no two tasks ever ran at once: {spans:#?}");
    let busy_workers = report
        .workers
        .iter()
        .filter(|w| !w.tasks.is_empty())
        .count();
    assert!(busy_workers >= 2, "{:?}", report.workers);

    // No task saw another's files: every change any attempt of a task saw
    // in its worktree is one of its own files (a shared tree would show the
    // files of tasks running beside it).
    for s in &scripted {
        let outcome = report.task(&s.key).unwrap().outcome.as_ref().unwrap();
        for attempt in &outcome.attempts {
            for change in &attempt.changes {
                assert!(
                    s.writes.contains(&change.path),
                    "{} {} saw {}, not one of its files {:?}",
                    s.key,
                    attempt.stage.as_str(),
                    change.path,
                    s.writes
                );
            }
        }
    }

    // Two tasks writing one file never overlapped.
    for (i, a) in scripted.iter().enumerate() {
        for b in &scripted[i + 1..] {
            if a.writes.iter().any(|w| b.writes.contains(w)) {
                let (sa, sb) = (report.span(&a.key).unwrap(), report.span(&b.key).unwrap());
                assert!(!sa.overlaps(sb), "{} and {} overlapped", a.key, b.key);
                assert!(
                    sb.started >= sa.ended,
                    "graph order: {} before {}",
                    a.key,
                    b.key
                );
            }
        }
    }
    // No task started before its dependencies merged.
    for s in &scripted {
        let span = report.span(&s.key).unwrap();
        for d in &s.deps {
            let dep = report.span(d).unwrap();
            assert!(
                span.started >= dep.ended,
                "{} started before its dependency {d} merged",
                s.key
            );
        }
    }

    // The user's checkout did not change.
    assert_eq!(user_state(&root), user_before);

    // A fresh clone of the feature branch passes its whole suite.
    let clone = temp_dir("clone");
    let branch = format!("tdd/{PRD}");
    let out = Command::new("git")
        .args(["clone", "-q", "--branch", &branch])
        .arg(&root)
        .arg(&clone)
        .output()
        .unwrap();
    succeeded(&out, "out");
    let out = Command::new(venv_bin().join("pytest"))
        .args(["-q", "-p", "no:cacheprovider"])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(&clone)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("{} passed", scripted.len())),
        "{text}"
    );
    eprintln!("{} tasks in {elapsed:?}", scripted.len());
}
