//! Scheduler benchmark: the engine's cost per task against the size of the
//! repository, with an instant worker and an instant test command.
//!
//! `cargo run --release -p tdd-engine --example pool_scale_bench -- [--files 0,10000,100000] [--tasks 12] [--loose]`.
//! Prints numbers, asserts nothing (it exits 1 only if a task does not merge
//! after exactly one attempt per stage).
//!
//! Setup, per repository size N: a real git repository in a fresh temp dir,
//! padded with N unrelated committed files (`bench_support::pad`: tiny text
//! files, 100 a directory under `vendor/`, made and committed with the git
//! CLI: `git add -A`, one commit and `git gc`, so they are packed as in a
//! clone, or left loose with `--loose`; timed apart and not counted); the store
//! in its `.tdd/` with a `Recorder`. Then `--tasks` Python tasks (12) in 3
//! phases, each task
//! depending on every task of the phase before, go through
//! `scheduler::run_pipeline` with one worker: an instant `ScriptedWorker`
//! writing one small file per stage. The test command is the sh stand-in for
//! pytest of `stage_overhead_bench` (it reads only `tests/` and `src/`, so
//! the padding does not slow it), behind a wrapper that counts its runs.
//!
//! Method. A task's time is its span in the scheduler's timeline (taken from
//! the pick to the end of `run_task`); per N the mean and p50 of those, the
//! mean against the smallest N (0 by default) of the same invocation, and at
//! the end the least-squares slope of the mean in ms per task per 1,000
//! files. The test command's share: the counted runs per task times one
//! whole `testrun::run_tests` call on a directory holding every task's test
//! and source (timed [`CALIBRATION`] times after the run, as in
//! `stage_overhead_bench`: an upper bound, a task sees only the tests merged
//! before it); the engine's share is the rest, minus the worker's time. A
//! second table splits the task's span by stage (from the attempts'
//! `started_at`; "outside" is the span outside RED's start and MERGE's end:
//! the worktree made and removed, the scheduler's own work).

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use tdd_core::config::{Language, Layout};
use tdd_engine::git::Project;
use tdd_engine::pipeline::{PipelineContext, TaskOutcome, Timings};
use tdd_engine::scheduler::{SchedulerOptions, run_pipeline};
use tdd_gates::Stage;
use tdd_workers::process::CancelToken;

#[path = "bench_support/mod.rs"]
mod bench_support;

use bench_support::{
    FAKE_PYTEST, PRD, STAGES, TestRunCost, Timed, check_report, counted, files, git, list_arg, ms,
    objects_arg, pad, percentile, phased_graph, recorder, repo, runs, time_test_runs,
};

const FILES: [usize; 3] = [0, 10_000, 100_000];
const TASKS: usize = 12;
const PHASES: usize = 3;
const CALIBRATION: usize = 8;

fn main() {
    let dir = std::env::temp_dir().join(format!("tdd-pool-scale-bench-{}", std::process::id()));
    let result = run(&dir);
    let _ = fs::remove_dir_all(&dir);
    if let Err(e) = result {
        eprintln!("pool_scale_bench: FAILED: {e}");
        std::process::exit(1);
    }
}

/// One repository size's numbers.
struct Point {
    files: usize,
    wall: Duration,
    /// Per task: its span, sorted.
    spans: Vec<Duration>,
    /// Per task: outside the stages, then each stage of [`STAGES`].
    stages: Vec<[Duration; 6]>,
    runs: usize,
    cost: TestRunCost,
    worker: Duration,
    /// Summed over the tasks: the engine's own `TaskOutcome::timings`.
    timings: Timings,
    /// The same, without the first task (the one that checks the
    /// repository out; later tasks adopt its worktree).
    later: Timings,
    /// Task spans without the first task's.
    later_spans: Vec<Duration>,
}

impl Point {
    fn mean(&self) -> Duration {
        self.spans.iter().sum::<Duration>() / self.spans.len() as u32
    }

    /// The test command's time per task: counted runs x one calibrated run.
    fn tests(&self) -> Duration {
        self.cost.run_tests * self.runs as u32 / self.spans.len() as u32
    }
}

fn run(dir: &Path) -> Result<(), String> {
    let mut sizes = list_arg("--files", &FILES)?;
    sizes.sort();
    let tasks = *list_arg("--tasks", &[TASKS])?.first().ok_or("--tasks")?;
    if tasks == 0 || sizes.is_empty() {
        return Err("nothing to run".to_string());
    }
    let graph = phased_graph(tasks, PHASES);
    let phases: Vec<String> = graph.waves.iter().map(|w| w.len().to_string()).collect();
    println!(
        "{tasks} tasks in phases of {}, 1 worker, the pytest stand-in, {}; {} cores, {}",
        phases.join("/"),
        objects_arg().as_str(),
        std::thread::available_parallelism().map_or(0, |p| p.get()),
        git(Path::new("."), &["--version"])?.trim()
    );
    println!(
        "{:>7} {:>7} {:>8} {:>9} {:>9} {:>8} {:>9} {:>10} {:>10} {:>11}",
        "files",
        "pad s",
        "wall s",
        "task mean",
        "task p50",
        format!("vs {}", sizes[0]),
        "runs/task",
        "one run",
        "tests/task",
        "engine/task"
    );
    let mut points: Vec<Point> = Vec::new();
    for &n in &sizes {
        let at = dir.join(format!("files-{n}"));
        let (point, pad) = measure(&at, n, tasks)?;
        // Removed only at the end: see `bench_support::pad`.
        let base = points.first().unwrap_or(&point).mean();
        let worker = point.worker / tasks as u32;
        println!(
            "{n:>7} {:>7.1} {:>8.2} {:>9} {:>9} {:>8.2} {:>9.1} {:>10} {:>10} {:>11}",
            pad.as_secs_f64(),
            point.wall.as_secs_f64(),
            ms(point.mean()),
            ms(percentile(&point.spans, 0.5)),
            point.mean().as_secs_f64() / base.as_secs_f64(),
            point.runs as f64 / tasks as f64,
            ms(point.cost.run_tests),
            ms(point.tests()),
            ms(point.mean().saturating_sub(point.tests() + worker)),
        );
        points.push(point);
    }
    println!(
        "ms unless marked; task = its span in the scheduler's timeline; vs {}: task mean against \
         that size's; one run: one whole run_tests call (calibrated); tests/task = runs/task x one \
         run; engine/task = task mean - tests/task - the worker's time",
        sizes[0]
    );
    println!("p50 per stage, ms (outside = the task's span outside RED start .. MERGE end):");
    println!(
        "{:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "files", "outside", "red", "green", "verify", "refactor", "merge"
    );
    for p in &points {
        let cols: Vec<String> = (0..6)
            .map(|k| {
                let mut v: Vec<Duration> = p.stages.iter().map(|s| s[k]).collect();
                v.sort();
                format!("{:>9}", ms(percentile(&v, 0.5)))
            })
            .collect();
        println!("{:>7} {}", p.files, cols.join(" "));
    }
    println!(
        "the engine's own split, mean ms per task (TaskOutcome::timings): git = worktree, \
         commits, rebase, fast-forward; diff = changes, put-backs, content tree ids; \
         first: the task that checks the repository out, later: the others (they adopt its worktree)"
    );
    println!(
        "{:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>11} {:>13} {:>10}",
        "files",
        "tasks",
        "git",
        "diff",
        "store",
        "tests",
        "worker",
        "merge wait",
        "runs/reused",
        "span p50"
    );
    for p in &points {
        let n = p.spans.len() as u32;
        let first = sub(&p.timings, &p.later);
        for (name, t, count, spans) in [
            ("first", &first, 1, None),
            ("later", &p.later, n - 1, Some(&p.later_spans)),
        ] {
            let count = count.max(1);
            println!(
                "{:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>11} {:>13} {:>10}",
                p.files,
                name,
                ms(t.git / count),
                ms(t.diff / count),
                ms(t.store / count),
                ms(t.tests / count),
                ms(t.worker / count),
                ms(t.merge_wait / count),
                format!("{}/{}", t.test_runs, t.reused_runs),
                spans.map_or("".to_string(), |s| ms(percentile(s, 0.5))),
            );
        }
    }
    if let Some(slope) = slope(&points) {
        println!("slope: {slope:.2} ms per task per 1,000 files (least squares of the task mean)");
    }
    Ok(())
}

/// Runs the tasks on a repository padded with `n` files: the numbers, and
/// the padding's time.
fn measure(dir: &Path, n: usize, tasks: usize) -> Result<(Point, Duration), String> {
    fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let script = dir.join("fake-pytest.sh");
    fs::write(&script, FAKE_PYTEST).map_err(|e| e.to_string())?;
    let (command, counter) = counted(dir, &format!("sh '{}'", script.display()))?;
    let layout = Layout {
        language: Language::Python,
        source_root: "src".to_string(),
        test_root: "tests".to_string(),
        test_command: command,
    };
    let root = repo(&dir.join("repo"), &[])?;
    let t = Instant::now();
    pad(&root, n, objects_arg())?;
    let pad = t.elapsed();

    let graph = phased_graph(tasks, PHASES);
    let project = Project::open(&root).map_err(|e| e.to_string())?;
    let mut ctx = PipelineContext::new(project, PRD, "main", layout.clone());
    ctx.test_timeout = Duration::from_secs(60);
    ctx.recorder = Some(recorder(&root.join(".tdd/orchestrator.db"), &graph.tasks)?);
    let all: Vec<usize> = (0..tasks).collect();
    let worker = Timed::new("instant", &all, true);
    let spent = worker.spent.clone();
    let t = Instant::now();
    let report = run_pipeline(
        &ctx,
        &graph,
        vec![Box::new(worker)],
        &SchedulerOptions::default(),
        &CancelToken::default(),
    );
    let wall = t.elapsed();
    check_report(&report).map_err(|e| format!("{n} files:\n{e}"))?;
    let runs = runs(&counter);

    let mut spans = Vec::new();
    let mut stages = Vec::new();
    let mut timings = Timings::default();
    let mut later = Timings::default();
    let mut later_spans = Vec::new();
    for (k, span) in report.timeline.iter().enumerate() {
        let outcome = report.task(&span.task).and_then(|t| t.outcome.as_ref());
        let outcome = outcome.ok_or("a task without outcome")?;
        let whole = span.ended.saturating_sub(span.started);
        spans.push(whole);
        stages.push(split(outcome, whole));
        add(&mut timings, &outcome.timings);
        if k > 0 {
            add(&mut later, &outcome.timings);
            later_spans.push(whole);
        }
    }
    later_spans.sort();
    spans.sort();

    let calibration = dir.join("calibration");
    for i in 0..tasks {
        for (path, text) in <[_; 2]>::from(files(i)) {
            let path = calibration.join(path);
            fs::create_dir_all(path.parent().unwrap()).map_err(|e| e.to_string())?;
            fs::write(path, text).map_err(|e| e.to_string())?;
        }
    }
    let cost = time_test_runs(&layout, &calibration, CALIBRATION)?;
    let worker = spent.lock().unwrap().iter().map(|(_, d)| *d).sum();
    let point = Point {
        files: n,
        wall,
        spans,
        stages,
        runs,
        cost,
        worker,
        timings,
        later,
        later_spans,
    };
    Ok((point, pad))
}

/// A task's span by stage: outside RED start .. MERGE end, then each stage
/// of [`STAGES`] up to the next one's start (MERGE: to its end).
fn split(outcome: &TaskOutcome, whole: Duration) -> [Duration; 6] {
    let start = |stage: Stage| outcome.attempts.iter().find(|a| a.stage == stage);
    let first = outcome.attempts.first().map(|a| a.started_at);
    let last = outcome.attempts.last().map(|a| a.finished_at);
    let mut out = [Duration::ZERO; 6];
    let (Some(first), Some(last)) = (first, last) else {
        return out;
    };
    let since = |a: SystemTime, b: SystemTime| b.duration_since(a).unwrap_or_default();
    out[0] = whole.saturating_sub(since(first, last));
    for (k, stage) in STAGES.iter().enumerate() {
        let Some(a) = start(*stage) else { continue };
        let end = STAGES
            .get(k + 1)
            .and_then(|s| start(*s))
            .map_or(a.finished_at, |next| next.started_at);
        out[k + 1] = since(a.started_at, end);
    }
    out
}

/// The least-squares slope of the task mean, in ms per 1,000 files.
fn slope(points: &[Point]) -> Option<f64> {
    let xy: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (p.files as f64 / 1e3, p.mean().as_secs_f64() * 1e3))
        .collect();
    let n = xy.len() as f64;
    let (mx, my) = xy
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let sxx: f64 = xy.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let sxy: f64 = xy.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

fn add(sum: &mut Timings, t: &Timings) {
    sum.git += t.git;
    sum.diff += t.diff;
    sum.store += t.store;
    sum.tests += t.tests;
    sum.worker += t.worker;
    sum.merge_wait += t.merge_wait;
    sum.test_wait += t.test_wait;
    sum.test_runs += t.test_runs;
    sum.reused_runs += t.reused_runs;
}

/// `all` minus `part`.
fn sub(all: &Timings, part: &Timings) -> Timings {
    Timings {
        git: all.git.saturating_sub(part.git),
        diff: all.diff.saturating_sub(part.diff),
        store: all.store.saturating_sub(part.store),
        tests: all.tests.saturating_sub(part.tests),
        worker: all.worker.saturating_sub(part.worker),
        merge_wait: all.merge_wait.saturating_sub(part.merge_wait),
        test_wait: all.test_wait.saturating_sub(part.test_wait),
        test_runs: all.test_runs - part.test_runs,
        reused_runs: all.reused_runs - part.reused_runs,
    }
}
