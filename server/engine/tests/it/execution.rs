//! Runs of a stored plan (`tdd_engine::execution`) on a real Python project:
//! the attempt and wall-time budgets, cancel from another thread through the
//! store, dead claims recovered, and resume finishing what was stopped.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use tdd_engine::execution::{self, Budget, RunEvent, RunRequest, RunStatus, StopReason};
use tdd_engine::planning;
use tdd_engine::store::claims::RunControl;
use tdd_engine::store::{Queries, Store, TaskStatus};
use tdd_gates::Stage;
use tdd_workers::{ScriptedWorker, StageRequest, Usage, Worker, WorkerError, WorkerReport};

use crate::support::{git, path_with_venv, temp_dir};

/// Two independent requirements: add and negate.
const PRD: &str = tdd_test_support::ADD_NEGATE_PRD;

/// A committed Python project with the PRD decomposed into the store.
fn project(name: &str) -> PathBuf {
    let root = temp_dir(name);
    tdd_test_support::python_project(&root, Some("calc"), &[("calc.prd.md", PRD)]);
    tdd_engine::project::init(&root, tdd_core::config::Language::Python, false).unwrap();
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "init"]);
    let planned = planning::plan_file(&root, &root.join("calc.prd.md")).unwrap();
    assert!(planned.errors.is_empty(), "{:?}", planned.errors);
    let keys: Vec<&str> = planned.graph.tasks.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(keys, ["REQ-1/AC-1.1", "REQ-2/AC-2.1"]);
    let mut store = Store::open(planning::database_path(&root)).unwrap();
    planning::apply(&mut store, &planned).unwrap();
    root
}

fn worker(name: &str, slow: Option<Duration>) -> ScriptedWorker {
    let mut w = ScriptedWorker::new(name)
        .write(
            "REQ-1/AC-1.1",
            Stage::Red,
            1,
            "tests/test_add.py",
            "from add import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
        )
        .write(
            "REQ-1/AC-1.1",
            Stage::Green,
            1,
            "src/add.py",
            "def add(a, b):\n    return a + b\n",
        )
        .write(
            "REQ-2/AC-2.1",
            Stage::Red,
            1,
            "tests/test_negate.py",
            "from negate import negate\n\n\ndef test_negate():\n    assert negate(7) == -7\n",
        )
        .write(
            "REQ-2/AC-2.1",
            Stage::Green,
            1,
            "src/negate.py",
            "def negate(x):\n    return -x\n",
        );
    if let Some(pause) = slow {
        w = w.pause("REQ-1/AC-1.1", Stage::Green, 1, pause).pause(
            "REQ-2/AC-2.1",
            Stage::Green,
            1,
            pause,
        );
    }
    w
}

fn request(root: &Path, workers: usize, slow: Option<Duration>) -> RunRequest {
    let pool: Vec<Box<dyn Worker>> = (1..=workers)
        .map(|n| Box::new(worker(&format!("w{n}"), slow)) as Box<dyn Worker>)
        .collect();
    let mut req = RunRequest::new(root, root.join("calc.prd.md"), pool);
    req.env = vec![
        ("PATH".to_string(), path_with_venv()),
        ("PYTHONDONTWRITEBYTECODE".to_string(), "1".to_string()),
    ];
    req.heartbeat = Duration::from_millis(50);
    req.test_timeout = Duration::from_secs(120);
    req
}

fn statuses(root: &Path) -> Vec<(String, TaskStatus)> {
    let store = Store::open(planning::database_path(root)).unwrap();
    store
        .read(|tx| {
            let prd = tx.prd("calc.prd.md")?.unwrap();
            Ok::<_, tdd_engine::store::StoreError>(
                tx.tasks(prd.id)?
                    .into_iter()
                    .map(|t| (t.key, t.status))
                    .collect(),
            )
        })
        .unwrap()
}

/// `resume` with `workers` workers completes the run, every task done.
fn resume_completes(root: &Path, workers: usize) {
    let mut again = request(root, workers, None);
    again.resume = true;
    assert_eq!(
        execution::execute(again).unwrap().status,
        RunStatus::Completed
    );
    assert!(all_done(root));
}

fn all_done(root: &Path) -> bool {
    statuses(root).iter().all(|(_, s)| *s == TaskStatus::Done)
}

#[test]
fn the_attempt_budget_stops_the_run_cleanly_and_resume_finishes_it() {
    let root = project("budget");
    let mut req = request(&root, 1, None);
    // RED and GREEN of the first task, then the third attempt is refused.
    req.budget = Budget {
        wall_time: None,
        attempts: Some(2),
        ..Budget::default()
    };
    let summary = execution::execute(req).unwrap();
    assert!(
        matches!(&summary.status, RunStatus::Stopped(StopReason::Budget(why)) if why.contains("attempt budget (2)")),
        "{:?}",
        summary.status
    );
    let after = statuses(&root);
    assert!(
        after
            .iter()
            .all(|(_, s)| matches!(s, TaskStatus::Done | TaskStatus::Pending)),
        "{after:?}"
    );
    assert!(
        after.iter().any(|(_, s)| *s == TaskStatus::Pending),
        "{after:?}"
    );

    let mut again = request(&root, 1, None);
    again.resume = true;
    let summary = execution::execute(again).unwrap();
    assert_eq!(
        summary.status,
        RunStatus::Completed,
        "{:?}",
        summary.report.tasks
    );
    assert!(all_done(&root));
}

#[test]
fn the_wall_time_budget_cancels_running_work_and_leaves_tasks_pending() {
    let root = project("walltime");
    let mut req = request(&root, 2, Some(Duration::from_secs(3)));
    req.budget = Budget {
        wall_time: Some(Duration::from_millis(800)),
        attempts: None,
        ..Budget::default()
    };
    let summary = execution::execute(req).unwrap();
    assert!(
        matches!(summary.status, RunStatus::Stopped(StopReason::Budget(_))),
        "{:?}",
        summary.status
    );
    let after = statuses(&root);
    assert!(
        after.iter().all(|(_, s)| *s == TaskStatus::Pending),
        "{after:?}"
    );

    resume_completes(&root, 2);
}

#[test]
fn cancel_from_another_thread_goes_through_the_store() {
    let root = project("cancel");
    let (started_tx, started_rx) = mpsc::channel();
    let mut req = request(&root, 2, Some(Duration::from_secs(2)));
    req.emit = Some(std::sync::Arc::new(move |event: &RunEvent<'_>| {
        if let RunEvent::TaskStarted { .. } = event {
            let _ = started_tx.send(());
        }
    }));
    let run = std::thread::spawn(move || execution::execute(req));
    started_rx.recv_timeout(Duration::from_secs(60)).unwrap();
    assert!(execution::run_in_progress(&root));
    // A second run is refused while this one holds the project.
    let busy = execution::execute(request(&root, 1, None)).unwrap_err();
    assert!(
        busy.to_string().contains("another run is working"),
        "{busy}"
    );
    execution::request(&root, Some(RunControl::Cancel)).unwrap();
    let summary = run.join().unwrap().unwrap();
    assert_eq!(summary.status, RunStatus::Stopped(StopReason::Cancelled));
    assert!(!execution::run_in_progress(&root));
    assert!(matches!(
        execution::request(&root, Some(RunControl::Pause)),
        Err(execution::ExecError::NoActiveRun)
    ));
    assert!(
        statuses(&root)
            .iter()
            .all(|(_, s)| *s != TaskStatus::Failed)
    );

    resume_completes(&root, 2);
}

#[test]
fn a_claim_left_by_a_dead_process_is_recovered_and_its_task_runs() {
    let root = project("claims");
    {
        let mut store = Store::open(planning::database_path(&root)).unwrap();
        store
            .write(|tx| {
                let prd = tx.prd("calc.prd.md")?.unwrap();
                let task = tx.task(prd.id, "REQ-2/AC-2.1")?.unwrap();
                let run = tx.start_run(prd.id, "gone:1:1")?;
                assert!(tx.claim_task(task.id, run, "gone:1:1", "w9")?);
                Ok::<_, tdd_engine::store::StoreError>(())
            })
            .unwrap();
    }
    let recovered = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = recovered.clone();
    let mut req = request(&root, 2, None);
    req.resume = true;
    req.emit = Some(std::sync::Arc::new(move |event: &RunEvent<'_>| {
        if let RunEvent::Recovered { claim } = event {
            seen.lock()
                .unwrap()
                .push((claim.task_key.clone(), claim.owner.clone()));
        }
    }));
    let summary = execution::execute(req).unwrap();
    assert_eq!(summary.status, RunStatus::Completed);
    assert_eq!(
        *recovered.lock().unwrap(),
        [("REQ-2/AC-2.1".to_string(), "gone:1:1".to_string())]
    );
    assert!(all_done(&root));
    let store = Store::open(planning::database_path(&root)).unwrap();
    let events = store.read(|tx| tx.events_after(0, 1000)).unwrap();
    assert!(events.iter().any(|e| e.kind == "claim.recovered"));
    assert!(store.read(|tx| tx.claims()).unwrap().is_empty());
}

#[test]
fn a_provider_outage_puts_the_task_back_and_the_next_attempt_finishes_it() {
    let root = project("outage");
    // The first RED attempt meets an outage; the task goes back to pending and
    // is taken again, its next attempt numbered 2, with the FIX budget intact.
    let outage = worker("w1", None)
        .on(
            "REQ-1/AC-1.1",
            Stage::Red,
            1,
            tdd_workers::Script::Outage("529 overloaded".to_string()),
        )
        .write(
            "REQ-1/AC-1.1",
            Stage::Red,
            2,
            "tests/test_add.py",
            "from add import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
        );
    let mut req = request(&root, 1, None);
    req.workers = vec![Box::new(outage)];
    req.max_attempts = 1;
    let summary = execution::execute(req).unwrap();
    assert_eq!(
        summary.status,
        RunStatus::Completed,
        "{:?}",
        summary.report.tasks
    );
    assert!(all_done(&root));

    let store = Store::open(planning::database_path(&root)).unwrap();
    let events = store.read(|tx| tx.events_after(0, 1000)).unwrap();
    let outage = events.iter().find(|e| e.kind == "task.outage").unwrap();
    assert_eq!(outage.task_key.as_deref(), Some("REQ-1/AC-1.1"));
    assert!(!events.iter().any(|e| e.kind == "task.failed"));
    let reds: Vec<(u32, Option<String>)> = store
        .read(|tx| {
            let prd = tx.prd("calc.prd.md")?.unwrap();
            let task = tx.task(prd.id, "REQ-1/AC-1.1")?.unwrap();
            tx.task_attempts(task.id)
        })
        .unwrap()
        .into_iter()
        .filter(|a| a.stage == "red")
        .map(|a| (a.attempt, a.failure_kind))
        .collect();
    assert_eq!(reds, [(1, Some("provider_outage".to_string())), (2, None)]);
}

/// A scripted worker that says each attempt made one call to `model`.
struct Priced {
    inner: ScriptedWorker,
    model: &'static str,
}

impl Worker for Priced {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn perform(&mut self, request: &StageRequest) -> Result<WorkerReport, WorkerError> {
        let mut report = self.inner.perform(request)?;
        report.usage = Some(Usage {
            calls: 1,
            input_tokens: 1_000,
            output_tokens: 100,
            cached_tokens: 200,
            latency_ms: 30,
            cost_usd: None,
        });
        report.model = Some(self.model.to_string());
        Ok(report)
    }
}

fn priced_request(root: &Path, model: &'static str) -> RunRequest {
    let mut req = request(root, 1, None);
    req.workers = vec![Box::new(Priced {
        inner: worker("w1", None),
        model,
    })];
    req
}

fn attempts_usage(root: &Path) -> Vec<Option<Usage>> {
    let store = Store::open(planning::database_path(root)).unwrap();
    store
        .read(|tx| {
            let prd = tx.prd("calc.prd.md")?.unwrap();
            let run = tx.latest_run(prd.id)?.unwrap();
            Ok::<_, tdd_engine::store::StoreError>(
                tx.attempts(run.id)?
                    .into_iter()
                    .filter(|a| a.stage != "verify" && a.stage != "merge")
                    .map(|a| a.usage)
                    .collect(),
            )
        })
        .unwrap()
}

#[test]
fn attempts_are_priced_from_the_table_and_the_token_budget_stops_dispatch() {
    let root = project("tokens");
    // Each attempt uses 1,100 tokens: the third one crosses 2,500, so the
    // fourth is refused.
    let mut req = priced_request(&root, "claude-sonnet-4-5-20250929");
    req.budget = Budget {
        tokens: Some(2_500),
        ..Budget::default()
    };
    let summary = execution::execute(req).unwrap();
    assert!(
        matches!(&summary.status, RunStatus::Stopped(StopReason::Budget(why)) if why.contains("token budget (2500)") && why.contains("3300 tokens")),
        "{:?}",
        summary.status
    );
    let used = attempts_usage(&root);
    assert_eq!(used.len(), 3, "{used:?}");
    // 800 uncached input at $3, 200 cached at $0.30, 100 output at $15 per million.
    let expected = (800.0 * 3.0 + 200.0 * 0.3 + 100.0 * 15.0) / 1e6;
    for usage in &used {
        let usage = usage.expect("every worker attempt records its usage");
        assert_eq!(
            (usage.calls, usage.input_tokens, usage.output_tokens),
            (1, 1_000, 100)
        );
        assert_eq!((usage.cached_tokens, usage.latency_ms), (200, 30));
        let cost = usage.cost_usd.expect("a known model is priced");
        assert!((cost - expected).abs() < 1e-12, "{cost} vs {expected}");
    }

    // Resuming keeps counting what the run used: the same budget refuses at once.
    let mut again = priced_request(&root, "claude-sonnet-4-5-20250929");
    again.resume = true;
    again.budget.tokens = Some(2_500);
    let summary = execution::execute(again).unwrap();
    assert!(
        matches!(summary.status, RunStatus::Stopped(StopReason::Budget(_))),
        "{:?}",
        summary.status
    );
    assert_eq!(attempts_usage(&root).len(), 3);

    // `status` totals the run.
    let store = Store::open(planning::database_path(&root)).unwrap();
    let prds = store.read(|tx| planning::status(tx, &root)).unwrap();
    let total = prds[0].total_usage().unwrap();
    assert_eq!((total.calls, total.tokens()), (3, 3_300));
    assert!((total.cost_usd.unwrap() - 3.0 * expected).abs() < 1e-12);
}

#[test]
fn unknown_models_record_tokens_with_cost_unknown_and_a_money_budget_counts_priced_calls() {
    let root = project("usd");
    // `fake-model` has no default price; the project's [pricing] gives one.
    let mut req = priced_request(&root, "local-llama");
    req.budget = Budget {
        usd: Some(0.000_001),
        ..Budget::default()
    };
    let summary = execution::execute(req).unwrap();
    assert_eq!(
        summary.status,
        RunStatus::Completed,
        "unpriced calls cost nothing against the budget"
    );
    let used = attempts_usage(&root);
    assert!(!used.is_empty());
    assert!(used.iter().all(|u| u.is_some_and(|u| u.cost_usd.is_none())));
    let store = Store::open(planning::database_path(&root)).unwrap();
    let prds = store.read(|tx| planning::status(tx, &root)).unwrap();
    let total = prds[0].total_usage().unwrap();
    assert!(total.to_string().contains("cost unknown"), "{total}");

    let root = project("usd-priced");
    let config = root.join(".tdd/config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[pricing.fake-model]\ninput = 1000.0\noutput = 1000.0\n");
    std::fs::write(&config, text).unwrap();
    let mut req = priced_request(&root, "fake-model");
    req.budget = Budget {
        usd: Some(2.0),
        ..Budget::default()
    };
    // $1.10 per attempt: the second crosses $2, the third is refused.
    let summary = execution::execute(req).unwrap();
    assert!(
        matches!(&summary.status, RunStatus::Stopped(StopReason::Budget(why)) if why.contains("cost budget ($2.00)")),
        "{:?}",
        summary.status
    );
    assert_eq!(attempts_usage(&root).len(), 2);
}

/// The panel's view of a finished run, read by a process that did not run
/// it: the snapshot agrees with the store's rows, every logged event is of
/// a kind this version knows, paging through the log with any page size
/// gives the same list, and a merged task's detail has its stage diffs.
#[test]
fn the_view_of_a_finished_run_matches_the_store_and_replays_its_log() {
    use tdd_engine::events::Event;
    use tdd_engine::view;

    let root = project("view");
    let summary = execution::execute(request(&root, 2, None)).unwrap();
    assert_eq!(summary.status, RunStatus::Completed);

    let reader = view::open(&root).unwrap().expect("a store");
    let snapshot = view::snapshot(&reader, &root).unwrap();
    let states: Vec<(String, String)> = snapshot
        .tasks
        .iter()
        .map(|t| (t.key.clone(), t.state.clone()))
        .collect();
    let stored: Vec<(String, String)> = statuses(&root)
        .into_iter()
        .map(|(k, s)| (k, s.as_str().to_string()))
        .collect();
    assert_eq!(states, stored);
    let attempts = reader.read(|tx| tx.all_attempts()).unwrap();
    for task in &snapshot.tasks {
        assert_eq!(task.stage.as_deref(), Some("merge"), "{task:?}");
        assert!(task.attempts >= 3, "{task:?}");
    }
    let counted: u32 = snapshot.tasks.iter().map(|t| t.attempts).sum();
    assert_eq!(counted as usize, attempts.len());
    assert_eq!(snapshot.prds[0].title.as_deref(), Some("Calculator"));
    assert_eq!(snapshot.prds[0].changed_since_decomposed, Some(false));
    assert_eq!(snapshot.runs.len(), 1);
    assert_eq!(snapshot.runs[0].status, "completed");
    let worker_ids: Vec<&str> = snapshot.workers.iter().map(|w| w.id.as_str()).collect();
    assert!(
        !worker_ids.is_empty() && !worker_ids.contains(&"engine"),
        "{worker_ids:?}"
    );

    let all = view::events_after(&reader, 0, view::MAX_EVENTS).unwrap();
    assert_eq!(all.last().map(|e| e.seq), Some(snapshot.last_seq));
    let seqs: Vec<i64> = all.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=snapshot.last_seq).collect::<Vec<_>>());
    let unknown: Vec<_> = all
        .iter()
        .filter(|e| matches!(e.event, Event::Other { .. }))
        .collect();
    assert!(
        unknown.is_empty(),
        "kinds the enum does not know: {unknown:?}"
    );
    for page in [1, 2, 7] {
        let mut paged = Vec::new();
        let mut after = 0;
        loop {
            let next = view::events_after(&reader, after, page).unwrap();
            let Some(last) = next.last() else { break };
            after = last.seq;
            paged.extend(next);
        }
        assert_eq!(paged, all, "page size {page}");
    }

    let detail = view::task_detail(&reader, &root, &snapshot, None, "REQ-1/AC-1.1").unwrap();
    let stages: Vec<&str> = detail.stages.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(&stages[..2], ["red", "green"], "{stages:?}");
    let red = &detail.stages[0];
    let test_file = red
        .files
        .iter()
        .find(|f| f.path == "tests/test_add.py")
        .expect("RED commit adds the test");
    assert_eq!(test_file.status, "added");
    assert!(
        test_file.unified.contains("+    assert add(2, 3) == 5"),
        "{}",
        test_file.unified
    );
    let red_attempt = detail.attempts.iter().find(|a| a.stage == "red").unwrap();
    let report = red_attempt.report.as_ref().expect("RED keeps its report");
    // pytest cannot import the module the task will create: a collection
    // problem naming the missing symbol, kept with its message.
    assert_eq!(report["problems"], 1, "{report}");
    let problem = &report["problem_list"][0];
    assert_eq!(problem["kind"]["kind"], "missing_symbol", "{report}");
    assert!(
        problem["message"]
            .as_str()
            .unwrap()
            .contains("No module named 'add'"),
        "{report}"
    );
    assert!(
        detail
            .events
            .iter()
            .any(|e| matches!(e.event, Event::TaskMerged { .. }))
    );
    assert!(matches!(
        view::task_detail(&reader, &root, &snapshot, None, "REQ-9/AC-9.9"),
        Err(view::ViewError::NoTask { .. })
    ));

    let metrics = view::metrics(&reader).unwrap();
    assert_eq!(metrics.merged_over_time.len(), 2);
    assert_eq!(metrics.stages["red"].passed, 2);
    assert!(metrics.stages["green"].duration_ms.is_some());
}

/// A run killed after a task failed on infrastructure (the kill took its
/// test run, say: issue 13, finding 10): `resume` puts that task back and
/// completes it. A task the same run failed as a violation stays failed
/// (its dependents stay blocked) until `retry`.
#[test]
fn resume_retries_what_the_interrupted_run_failed_on_infrastructure_only() {
    use tdd_engine::store::runs::NewAttempt;
    let root = project("crashed");
    let infra_key = "REQ-1/AC-1.1";
    let violation_key = "REQ-2/AC-2.1";
    {
        let mut store = Store::open(planning::database_path(&root)).unwrap();
        store
            .write(|tx| {
                let prd = tx.prd("calc.prd.md")?.unwrap();
                let run = tx.start_run(prd.id, "gone:1:1")?;
                // MERGE's test run killed; a GREEN the gate rejected.
                let failures = [
                    (infra_key, "merge", "infrastructure"),
                    (violation_key, "green", "violation"),
                ];
                for (key, stage, kind) in failures {
                    let task = tx.task(prd.id, key)?.unwrap();
                    tx.insert_attempt(&NewAttempt {
                        run_id: run,
                        task_id: task.id,
                        stage: stage.into(),
                        attempt: 1,
                        worker: "w1".into(),
                        started_at_ms: 1_000,
                        finished_at_ms: Some(2_000),
                        exit_code: None,
                        test_summary: None,
                        failure_kind: Some(kind.into()),
                        diff_stats: None,
                        evidence: Some("the test run was killed".into()),
                        usage: None,
                        transcript: None,
                    })?;
                    tx.set_task_status(task.id, TaskStatus::Failed)?;
                }
                Ok::<_, tdd_engine::store::StoreError>(())
            })
            .unwrap();
    }
    let notices = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = notices.clone();
    let mut req = request(&root, 1, None);
    req.resume = true;
    req.emit = Some(std::sync::Arc::new(move |event: &RunEvent<'_>| {
        if let RunEvent::Notice { key, message } = event {
            seen.lock().unwrap().push(format!("{key}: {message}"));
        }
    }));

    let summary = execution::execute(req).unwrap();

    let statuses: std::collections::HashMap<String, TaskStatus> =
        statuses(&root).into_iter().collect();
    assert_eq!(statuses[infra_key], TaskStatus::Done, "{summary:?}");
    assert_eq!(statuses[violation_key], TaskStatus::Failed);
    // What still failed is said: the run did not complete.
    assert_eq!(summary.status, RunStatus::Failed);
    assert_eq!(
        summary.failed_before,
        [(violation_key.to_string(), Vec::<String>::new())]
    );
    let notices = notices.lock().unwrap();
    assert!(
        notices
            .iter()
            .any(|n| n.starts_with(infra_key) && n.contains("retried")),
        "{notices:?}"
    );
    assert!(
        !notices.iter().any(|n| n.starts_with(violation_key)),
        "{notices:?}"
    );
}
