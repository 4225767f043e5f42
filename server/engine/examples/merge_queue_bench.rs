//! Scheduler benchmark: the merge queue and test runs with more workers,
//! real pytest.
//!
//! `cargo run --release -p tdd-engine --example merge_queue_bench -- [--workers 1,2,4] [--test-slots N]`.
//! Prints numbers, asserts nothing (it exits 1 only if a task does not merge
//! after exactly one attempt per stage).
//!
//! Setup, per worker count, on a fresh repository (a real git repository in
//! a temp dir, `pytest.ini` putting `src` on the path, the store in `.tdd/`
//! with a `Recorder`): [`TASKS`] Python tasks in 3 phases (17/17/16), each
//! task depending on every task of the phase before, through
//! `scheduler::run_pipeline`. Each worker slot is an instant `ScriptedWorker`:
//! RED writes `tests/test_m_<i>.py` (a real pytest test importing `m_<i>`),
//! GREEN `src/m_<i>.py`, REFACTOR adds a comment to it. The test command is
//! real pytest (`$TDD_TEST_VENV/bin/pytest`, by default the repository's
//! `.venv`, which `scripts/test` installs) behind a sh wrapper that appends a
//! line to a counter file per run, so runs per task are counted, not assumed.
//!
//! Printed per worker count: the run's wall time; test-runner processes per
//! task; each task's MERGE span, from its MERGE attempt's `started_at` to
//! `finished_at` (all the merge queue does for the task: waiting for the
//! merge lock, the rebase, the tests on the new tip, the
//! fast-forward, and any further round) as p50, p95 and total; the MERGE
//! spans against the wall time, summed (above 100 % when merges overlap) and
//! as their union (the share of the run during which some task was in
//! MERGE); and each merge's own part: merges in the order they ended, each
//! from the later of its start and the previous one's end; the mean wait
//! for the merge lock a task and the test runs a task answered from an
//! earlier run on the same files, both from the engine's own
//! `TaskOutcome::timings`, and the mean wait for a test slot a task (test
//! runs at once are limited to one per core by default, `pipeline::TestSlots`;
//! `--test-slots N` sets N, 0 one per worker, which is no limit). By default
//! the merge lock is held from the rebase to the fast-forward
//! (`PipelineContext::merge_rounds_outside_lock`).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use tdd_core::config::{Language, Layout};
use tdd_engine::git::Project;
use tdd_engine::pipeline::{PipelineContext, TestSlots};
use tdd_engine::scheduler::{SchedulerOptions, run_pipeline};
use tdd_gates::Stage;
use tdd_workers::Worker;
use tdd_workers::process::CancelToken;

#[path = "bench_support/mod.rs"]
mod bench_support;

use bench_support::{
    PRD, Timed, check_report, counted, git, list_arg, ms, percentile, phased_graph, recorder, repo,
    runs,
};

const TASKS: usize = 50;
const PHASES: usize = 3;
const WORKERS: [usize; 3] = [1, 2, 4];
const PYTEST_INI: &str = "[pytest]\ntestpaths = tests\npythonpath = src\n";

fn main() {
    let dir = std::env::temp_dir().join(format!("tdd-merge-queue-bench-{}", std::process::id()));
    let result = run(&dir);
    let _ = fs::remove_dir_all(&dir);
    if let Err(e) = result {
        eprintln!("merge_queue_bench: FAILED: {e}");
        std::process::exit(1);
    }
}

fn run(dir: &Path) -> Result<(), String> {
    let workers = list_arg("--workers", &WORKERS)?;
    let slots = list_arg("--test-slots", &[])?.first().copied();
    let pytest = pytest()?;
    let version = std::process::Command::new(&pytest)
        .arg("--version")
        .output()
        .map_err(|e| format!("{}: {e}", pytest.display()))?;
    let phases: Vec<String> = phased_graph(TASKS, PHASES)
        .waves
        .iter()
        .map(|w| w.len().to_string())
        .collect();
    println!(
        "{TASKS} tasks in phases of {}, {}; test slots: {}; {} cores, {}",
        phases.join("/"),
        String::from_utf8_lossy(&version.stdout).trim(),
        match slots {
            None => "one per core".to_string(),
            Some(0) => "one per worker".to_string(),
            Some(n) => n.to_string(),
        },
        std::thread::available_parallelism().map_or(0, |p| p.get()),
        git(Path::new("."), &["--version"])?.trim()
    );
    println!(
        "{:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10} {:>7}",
        "workers",
        "wall s",
        "runs/task",
        "task p50",
        "merge p50",
        "merge p95",
        "merge s",
        "sum/wall",
        "any/wall",
        "own p50~",
        "lock wait",
        "slot wait",
        "reused"
    );
    for w in workers {
        let at = dir.join(format!("workers-{w}"));
        measure(&at, w, slots, &pytest)?;
        let _ = fs::remove_dir_all(&at);
    }
    println!(
        "ms unless marked; runs/task = test-runner processes per task (counted); task p50 = a \
         task's span in the scheduler's timeline; merge = the MERGE attempt's started_at .. \
         finished_at (lock wait included); merge s = their sum; sum/wall = that over the run's \
         wall time, any/wall = their union over it; own~ = a merge's part after the previous one \
         ended; lock wait = mean wait for the merge lock a task, slot wait = for test slots \
         (TaskOutcome::timings); reused = \
         test runs a task answered from a run on the same files"
    );
    Ok(())
}

/// pytest from `$TDD_TEST_VENV` or the repository's `.venv`.
fn pytest() -> Result<PathBuf, String> {
    let venv = std::env::var_os("TDD_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    let pytest = venv.join("bin/pytest");
    match pytest.exists() {
        true => Ok(pytest),
        false => Err(format!(
            "no pytest at {}: run `python3 -m venv .venv && .venv/bin/pip install pytest==9.2.0` \
             at the repository's root, or set TDD_TEST_VENV",
            pytest.display()
        )),
    }
}

/// The whole run with `workers` workers, in `dir`; prints its row.
fn measure(dir: &Path, workers: usize, slots: Option<usize>, pytest: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let (command, counter) = counted(dir, &format!("'{}'", pytest.display()))?;
    let layout = Layout {
        language: Language::Python,
        source_root: "src".to_string(),
        test_root: "tests".to_string(),
        test_command: command,
    };
    let root = repo(&dir.join("repo"), &[("pytest.ini", PYTEST_INI)])?;
    let graph = phased_graph(TASKS, PHASES);
    let project = Project::open(&root).map_err(|e| e.to_string())?;
    let mut ctx = PipelineContext::new(project, PRD, "main", layout);
    ctx.env = vec![("PYTHONDONTWRITEBYTECODE".to_string(), "1".to_string())];
    ctx.test_timeout = Duration::from_secs(120);
    ctx.recorder = Some(recorder(&root.join(".tdd/orchestrator.db"), &graph.tasks)?);
    match slots {
        Some(0) => ctx.test_slots = TestSlots::new(workers),
        Some(n) => ctx.test_slots = TestSlots::new(n),
        None => {}
    }
    let all: Vec<usize> = (0..TASKS).collect();
    let pool: Vec<Box<dyn Worker>> = (0..workers)
        .map(|k| Box::new(Timed::new(&format!("worker-{k}"), &all, true)) as Box<dyn Worker>)
        .collect();
    let t = Instant::now();
    let report = run_pipeline(
        &ctx,
        &graph,
        pool,
        &SchedulerOptions::default(),
        &CancelToken::default(),
    );
    let wall = t.elapsed();
    check_report(&report).map_err(|e| format!("{workers} workers:\n{e}"))?;

    let mut tasks: Vec<Duration> = report
        .timeline
        .iter()
        .map(|s| s.ended.saturating_sub(s.started))
        .collect();
    tasks.sort();
    // (start, end) of every MERGE attempt, in the order they ended.
    let mut merges: Vec<(SystemTime, SystemTime)> = report
        .tasks
        .iter()
        .flat_map(|t| &t.outcome)
        .flat_map(|o| o.attempts.iter().filter(|a| a.stage == Stage::Merge))
        .map(|a| (a.started_at, a.finished_at))
        .collect();
    merges.sort_by_key(|m| m.1);
    let since = |a: SystemTime, b: SystemTime| b.duration_since(a).unwrap_or_default();
    let mut spans: Vec<Duration> = merges.iter().map(|&(s, e)| since(s, e)).collect();
    spans.sort();
    let total: Duration = spans.iter().sum();
    let mut own = Vec::new();
    let mut prev_end = SystemTime::UNIX_EPOCH;
    for &(start, end) in &merges {
        own.push(since(start.max(prev_end), end));
        prev_end = end;
    }
    own.sort();
    // The union: by start, each counted from the furthest end seen so far.
    merges.sort();
    let (mut union, mut reached) = (Duration::ZERO, SystemTime::UNIX_EPOCH);
    for &(start, end) in &merges {
        union += since(start.max(reached), end.max(reached));
        reached = reached.max(end);
    }
    let share = |d: Duration| format!("{:.1} %", 100.0 * d.as_secs_f64() / wall.as_secs_f64());
    // The engine's own count: time waiting for the merge lock, and test
    // runs answered from an earlier run on the same files.
    let outcomes: Vec<_> = report.tasks.iter().flat_map(|t| &t.outcome).collect();
    let lock_wait: Duration = outcomes.iter().map(|o| o.timings.merge_wait).sum();
    let slot_wait: Duration = outcomes.iter().map(|o| o.timings.test_wait).sum();
    let reused: u32 = outcomes.iter().map(|o| o.timings.reused_runs).sum();
    println!(
        "{workers:>7} {:>7.2} {:>9.2} {:>9} {:>9} {:>9} {:>9.2} {:>9} {:>9} {:>10} {:>10} {:>10} {:>7.2}",
        wall.as_secs_f64(),
        runs(&counter) as f64 / TASKS as f64,
        ms(percentile(&tasks, 0.5)),
        ms(percentile(&spans, 0.5)),
        ms(percentile(&spans, 0.95)),
        total.as_secs_f64(),
        share(total),
        share(union),
        ms(percentile(&own, 0.5)),
        ms(lock_wait / TASKS as u32),
        ms(slot_wait / TASKS as u32),
        reused as f64 / TASKS as f64,
    );
    Ok(())
}
