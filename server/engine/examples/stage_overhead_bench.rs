//! Pipeline benchmark: the engine's own time per stage, with an instant worker
//! and an instant test command.
//!
//! `cargo run --release -p tdd-engine --example stage_overhead_bench`. Prints
//! numbers, asserts nothing (it exits 1 only if a task does not merge cleanly).
//!
//! Setup: a real git repository in a fresh temp dir, the store in its `.tdd/`
//! with a [`Recorder`] (a real run records every attempt), and [`TASKS`]
//! independent Python tasks run one after another through
//! `pipeline::run_task`, each merging into `tdd/bench`. The worker is a
//! [`ScriptedWorker`] writing one small file per stage. The test command is a
//! sh script standing in for pytest: one test per `tests/test_<m>.py`,
//! passing when the first line of `src/<m>.py` is what the test's first line
//! names, written as JUnit XML to the `--junitxml=` path; it uses only sh
//! builtins, so it costs about one `sh` start however many tests there are.
//! So RED, GREEN, VERIFY, REFACTOR and MERGE all pass their real gates.
//!
//! Method. A stage's span runs from the start of its attempt (the pipeline's
//! `AttemptRecord::started_at`) to the start of the next stage's; RED begins
//! when `run_task` is called (so it holds the worktree creation) and MERGE
//! ends when it returns (the fast-forward and the worktree removal). The
//! engine's time is the span minus the worker's time in the stage (timed
//! around `Worker::perform`) minus its test runs. A test run is one whole
//! `testrun::run_tests` call (spawn, the script, reading and parsing the
//! report): after each task, the same call is timed [`CALIBRATION`] times on a
//! directory holding the same tests and sources, and its mean is subtracted
//! per run: RED, GREEN and REFACTOR run the suite twice (baseline and judged
//! run), VERIFY and MERGE once. The same tasks also run without a
//! recorder, to show what the store's writes cost, and with a worker that
//! says it is a program (so each attempt gets the escape audit: the user's
//! checkout and the worktrees directory looked at before and after); last, a
//! few git operations are timed alone, to show where the rest goes.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use tdd_core::config::{Language, Layout};
use tdd_core::plan::Task;
use tdd_engine::git::Project;
use tdd_engine::pipeline::{PipelineContext, TaskOutcome, run_task};

#[path = "bench_support/mod.rs"]
mod bench_support;

use bench_support::{
    FAKE_PYTEST, PRD, STAGES, TestRunCost, Timed, check, files, git, ms, percentile, recorder,
    repo, task, time_test_runs,
};

const TASKS: usize = 50;
/// Tasks run first and not counted (page cache, SQLite and git warm-up).
const WARMUP: usize = 3;
const CALIBRATION: usize = 8;
/// Test runs per stage, in [`STAGES`] order (see the module documentation).
const RUNS: [u32; 5] = [2, 2, 1, 2, 1];

fn main() {
    let dir = std::env::temp_dir().join(format!("tdd-stage-bench-{}", std::process::id()));
    let result = run(&dir);
    let _ = fs::remove_dir_all(&dir);
    if let Err(e) = result {
        eprintln!("stage_overhead_bench: FAILED: {e}");
        std::process::exit(1);
    }
}

/// One task's numbers, per stage in [`STAGES`] order and for the whole task
/// (last): the span, the engine's time excluding only the test command, and
/// excluding whole `run_tests` calls.
struct Sample {
    span: [Duration; 6],
    engine: [Duration; 6],
    outside_runs: [Duration; 6],
    cost: TestRunCost,
}

fn run(dir: &Path) -> Result<(), String> {
    let script = dir.join("fake-pytest.sh");
    fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    fs::write(&script, FAKE_PYTEST).map_err(|e| e.to_string())?;
    let layout = Layout {
        language: Language::Python,
        source_root: "src".to_string(),
        test_root: "tests".to_string(),
        test_command: format!("sh '{}'", script.display()),
    };
    println!(
        "{TASKS} tasks (+{WARMUP} warm-up), {} cores, git CLI {}",
        std::thread::available_parallelism().map_or(0, |p| p.get()),
        git(dir, &["--version"])?.trim()
    );

    let passes = passes(dir, &layout)?;
    report(&passes);
    git_costs(&dir.join("recorded/repo"))
}

/// A repository, its pipeline context, and a directory for timing test runs.
struct Bench {
    ctx: PipelineContext,
    calibration: PathBuf,
    samples: Vec<Sample>,
    /// The worker says it cannot write outside its worktree (scripted, API);
    /// false stands for a program worker, whose attempts get the escape audit.
    confined: bool,
}

impl Bench {
    fn new(
        dir: &Path,
        layout: &Layout,
        tasks: &[Task],
        record: bool,
        confined: bool,
    ) -> Result<Bench, String> {
        let root = repo(&dir.join("repo"), &[])?;
        let calibration = dir.join("calibration");
        fs::create_dir_all(calibration.join("tests")).map_err(|e| e.to_string())?;
        fs::create_dir_all(calibration.join("src")).map_err(|e| e.to_string())?;
        let project = Project::open(&root).map_err(|e| e.to_string())?;
        let mut ctx = PipelineContext::new(project, PRD, "main", layout.clone());
        ctx.test_timeout = Duration::from_secs(30);
        if record {
            ctx.recorder = Some(recorder(&root.join(".tdd/orchestrator.db"), tasks)?);
        }
        Ok(Bench {
            ctx,
            calibration,
            samples: Vec::new(),
            confined,
        })
    }

    fn task(&mut self, i: usize, task: &Task) -> Result<(), String> {
        let mut worker = Timed::new("instant", &[i], self.confined);
        let started = SystemTime::now();
        let outcome = run_task(&self.ctx, task, &mut worker);
        let ended = SystemTime::now();
        check(&task.key, &outcome)?;
        // The calibration directory now holds what the feature branch holds.
        let (test, source) = files(i);
        let dir = &self.calibration;
        fs::write(dir.join(&test.0), &test.1).map_err(|e| e.to_string())?;
        fs::write(dir.join(&source.0), &source.1).map_err(|e| e.to_string())?;
        let runs = time_test_runs(&self.ctx.layout, dir, CALIBRATION)?;
        if i >= WARMUP {
            let sample = sample(&outcome, &worker, started, ended, runs);
            self.samples.push(sample);
        }
        Ok(())
    }
}

/// The samples of the three passes.
struct Passes {
    with: Vec<Sample>,
    without: Vec<Sample>,
    program: Vec<Sample>,
}

/// The tasks with a store, without, and with a store and a program worker
/// (escape audit on), in turn (so load from elsewhere on the machine hits
/// all alike), each in its own repository.
fn passes(dir: &Path, layout: &Layout) -> Result<Passes, String> {
    let tasks: Vec<Task> = (0..WARMUP + TASKS).map(task).collect();
    let mut with = Bench::new(&dir.join("recorded"), layout, &tasks, true, true)?;
    let mut without = Bench::new(&dir.join("unrecorded"), layout, &tasks, false, true)?;
    let mut program = Bench::new(&dir.join("program"), layout, &tasks, true, false)?;
    for (i, task) in tasks.iter().enumerate() {
        with.task(i, task)?;
        without.task(i, task)?;
        program.task(i, task)?;
    }
    Ok(Passes {
        with: with.samples,
        without: without.samples,
        program: program.samples,
    })
}

fn sample(
    outcome: &TaskOutcome,
    worker: &Timed,
    started: SystemTime,
    ended: SystemTime,
    cost: TestRunCost,
) -> Sample {
    let since = |at: SystemTime| at.duration_since(started).unwrap_or_default();
    // Where each stage starts, relative to the call; the first starts at 0.
    let mut starts: Vec<Duration> = STAGES
        .iter()
        .map(|s| {
            outcome
                .attempts
                .iter()
                .find(|a| a.stage == *s)
                .map_or(Duration::ZERO, |a| since(a.started_at))
        })
        .collect();
    starts[0] = Duration::ZERO;
    starts.push(since(ended));
    let mut sample = Sample {
        span: [Duration::ZERO; 6],
        engine: [Duration::ZERO; 6],
        outside_runs: [Duration::ZERO; 6],
        cost,
    };
    for (k, stage) in STAGES.iter().enumerate() {
        let span = starts[k + 1].saturating_sub(starts[k]);
        let worker = worker.spent(Some(*stage));
        sample.span[k] = span;
        sample.engine[k] = span.saturating_sub(worker + cost.command * RUNS[k]);
        sample.outside_runs[k] = span.saturating_sub(worker + cost.run_tests * RUNS[k]);
    }
    sample.span[5] = since(ended);
    sample.engine[5] = sample.engine[..5].iter().sum();
    sample.outside_runs[5] = sample.outside_runs[..5].iter().sum();
    sample
}

fn report(passes: &Passes) {
    let (with, without) = (&passes.with, &passes.without);
    println!(
        "{:<9} {:>4} {:>9} {:>11} {:>11} {:>11} {:>15} {:>13} {:>14}",
        "stage",
        "runs",
        "span p50",
        "engine p50",
        "engine p95",
        "engine max",
        "excl. run_tests",
        "no recorder",
        "program wkr"
    );
    let sorted = |samples: &[Sample], pick: &dyn Fn(&Sample) -> Duration| {
        let mut v: Vec<Duration> = samples.iter().map(pick).collect();
        v.sort();
        v
    };
    let names = STAGES.iter().map(|s| s.as_str()).chain(["task"]);
    let runs = RUNS.iter().copied().chain([RUNS.iter().sum()]);
    for (k, (name, runs)) in names.zip(runs).enumerate() {
        let engine = sorted(with, &|s| s.engine[k]);
        println!(
            "{name:<9} {runs:>4} {:>9} {:>11} {:>11} {:>11} {:>15} {:>13} {:>14}",
            ms(percentile(&sorted(with, &|s| s.span[k]), 0.5)),
            ms(percentile(&engine, 0.5)),
            ms(percentile(&engine, 0.95)),
            ms(engine[engine.len() - 1]),
            ms(percentile(&sorted(with, &|s| s.outside_runs[k]), 0.5)),
            ms(percentile(&sorted(without, &|s| s.engine[k]), 0.5)),
            ms(percentile(&sorted(&passes.program, &|s| s.engine[k]), 0.5)),
        );
    }
    let whole = sorted(with, &|s| s.cost.run_tests);
    let bare = sorted(with, &|s| s.cost.command);
    let share = sorted(with, &|s| s.cost.run_tests.saturating_sub(s.cost.command));
    println!(
        "one test run, p50 / p95: run_tests {} / {}; the command alone {} / {}; \
         run_tests' own share {} / {}",
        ms(percentile(&whole, 0.5)),
        ms(percentile(&whole, 0.95)),
        ms(percentile(&bare, 0.5)),
        ms(percentile(&bare, 0.95)),
        ms(percentile(&share, 0.5)),
        ms(percentile(&share, 0.95)),
    );
    println!(
        "ms; engine = span - worker - runs x the command alone (target < 2 ms per stage); \
         excl. run_tests: minus whole run_tests calls instead; no recorder: engine p50 with \
         no store; program wkr: engine p50 when the worker is a program (escape audit on)"
    );
}

/// Times the git operations a task makes, one at a time, in `root`: on
/// worktrees of the feature branch the tasks built, and of `main` (a
/// feature branch made there), to see how they grow with the tree.
fn git_costs(root: &Path) -> Result<(), String> {
    let project = Project::open(root).map_err(|e| e.to_string())?;
    project
        .ensure_feature_branch("probe", "main")
        .map_err(|e| e.to_string())?;
    println!("git operations alone, p50 / p95 in ms (20 worktrees, 10 calls in each):");
    for prd in [PRD, "probe"] {
        let (mut create, mut remove, mut open, mut changes) = (vec![], vec![], vec![], vec![]);
        for i in 0..20 {
            let key = format!("PROBE-{prd}-{i}");
            let t = Instant::now();
            let wt = project
                .create_worktree(prd, &key)
                .map_err(|e| e.to_string())?;
            create.push(t.elapsed());
            fs::write(wt.path.join("src/probe.py"), "x = 1\n").map_err(|e| e.to_string())?;
            for _ in 0..10 {
                let t = Instant::now();
                let repo = git2::Repository::open(&wt.path).map_err(|e| e.to_string())?;
                let head = repo.head().and_then(|h| h.peel_to_commit());
                let head = head.map_err(|e| e.to_string())?.id();
                open.push(t.elapsed());
                let t = Instant::now();
                wt.changes(head).map_err(|e| e.to_string())?;
                changes.push(t.elapsed());
            }
            let t = Instant::now();
            project.remove_worktree(&key).map_err(|e| e.to_string())?;
            remove.push(t.elapsed());
        }
        let branch = format!("tdd/{prd}");
        let files = git(root, &["ls-tree", "-r", "--name-only", &branch])?;
        println!("  {branch} ({} files):", files.lines().count());
        for (name, mut times) in [
            ("create_worktree", create),
            ("remove_worktree", remove),
            ("open repository + HEAD", open),
            ("changes (one new file)", changes),
        ] {
            times.sort();
            println!(
                "    {name:<24} {} / {}",
                ms(percentile(&times, 0.5)),
                ms(percentile(&times, 0.95))
            );
        }
    }
    Ok(())
}
