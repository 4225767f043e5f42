//! Pipeline benchmark: the engine's own time per stage, with an instant worker
//! and an instant test command, on a small repository and a large one.
//!
//! `cargo run --release -p tdd-engine --example stage_overhead_bench -- [--files 3,10000] [--tasks 50,10] [--loose]`.
//! Prints numbers, asserts nothing (it exits 1 only if a task does not merge
//! cleanly, or its attempts' evidence and its `TaskOutcome::timings` disagree
//! on how many test runs it made).
//!
//! Setup, per repository size N of `--files` (3 and 10,000): a real git
//! repository in a fresh temp dir holding 3 committed files (`.gitignore`,
//! `src/README`, `tests/README`) and, past 3, N-3 unrelated committed files
//! (`bench_support::pad`, as in `pool_scale_bench`: tiny text files, 100 a
//! directory under `vendor/`, one commit, packed unless `--loose`; not
//! counted); the store in its
//! `.tdd/` with a [`Recorder`] (a real run records every attempt), and
//! `--tasks` (per size in `--files` order, the last one for the sizes past
//! the list; [`TASKS`]) independent Python tasks, after [`WARMUP`] more, run
//! one after another through `pipeline::run_task`, each merging into
//! `tdd/bench`. The worker is a [`ScriptedWorker`] writing one small file per
//! stage. The test command is a sh script standing in for pytest: one test
//! per `tests/test_<m>.py`, passing when the first line of `src/<m>.py` is
//! what the test's first line names, written as JUnit XML to the
//! `--junitxml=` path; it uses only sh builtins, so it costs about one `sh`
//! start however many tests there are (and it reads only `tests/` and
//! `src/`, so the padding does not slow it). So RED, GREEN, VERIFY, REFACTOR
//! and MERGE all pass their real gates.
//!
//! Method. A stage's span runs from the start of its attempt (the pipeline's
//! `AttemptRecord::started_at`) to the start of the next stage's; RED begins
//! when `run_task` is called (so it holds getting the worktree) and MERGE
//! ends when it returns (the fast-forward and parking or removing the
//! worktree). The engine's time is the span minus the worker's time in the
//! stage (timed around `Worker::perform`) minus its test runs. A test run is
//! one whole `testrun::run_tests` call (spawn, the script, reading and
//! parsing the report): after each task, the same call is timed
//! [`CALIBRATION`] times on a directory holding the same tests and sources,
//! and its mean is subtracted per real run. RED, GREEN and REFACTOR ask for
//! the suite twice (baseline and judged run), VERIFY and MERGE once
//! ([`RUNS`]), but the engine answers a run from an earlier report when the
//! worktree's content is the same (`pipeline::ReportCache`): so the runs
//! subtracted are the task's real ones, `TaskOutcome::timings.test_runs`,
//! split by stage by the attempts' evidence (which says "reused from" for
//! each report answered from the cache; the split must add up to
//! `test_runs`, and the reused ones to `reused_runs`). The same tasks also
//! run without a recorder, to show what the store's writes cost, and with a
//! worker that says it is a program (so each attempt gets the escape audit:
//! the user's checkout and the worktrees directory looked at before and
//! after; its worktrees are watched by `stat` instead of inotify, since a
//! program may write through `mmap`). After each size's table comes the engine's own split
//! per task, `TaskOutcome::timings` (git, diff, store, tests, worker, merge
//! wait, real and reused test runs), mean and p50 over the counted tasks and
//! the first task apart (it checks the repository out; later tasks of the
//! recorded pass adopt the worktree the task before parked), for the
//! recorded pass and the program-worker pass; last, a few git operations are
//! timed alone, to show where the rest goes (on 20 worktrees, or
//! [`BIG_WORKTREES`] past [`BIG`] files, where one costs seconds).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use tdd_core::config::{Language, Layout};
use tdd_core::plan::Task;
use tdd_engine::git::Project;
use tdd_engine::pipeline::{PipelineContext, TaskOutcome, Timings, run_task};

#[path = "bench_support/mod.rs"]
mod bench_support;

use bench_support::{
    FAKE_PYTEST, PRD, STAGES, TestRunCost, Timed, check, files, git, list_arg, ms, objects_arg,
    pad, percentile, recorder, repo, task, time_test_runs,
};

/// Repository sizes, in committed files (3: the bare repository).
const FILES: [usize; 2] = [3, 10_000];
/// Committed files of the bare repository (see `bench_support::repo`).
const BARE_FILES: usize = 3;
const TASKS: usize = 50;
/// Tasks run first and not counted (page cache, SQLite and git warm-up).
const WARMUP: usize = 3;
const CALIBRATION: usize = 8;
/// Past this many files, the git operations are timed on [`BIG_WORKTREES`]
/// worktrees only.
const BIG: usize = 1_000;
const BIG_WORKTREES: usize = 3;
/// Test runs asked for per stage, in [`STAGES`] order (see the module
/// documentation); some may be answered from an earlier report.
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
/// (last): the span, the real test runs, the engine's time excluding only
/// the test command, and excluding whole `run_tests` calls; and the engine's
/// own split.
struct Sample {
    span: [Duration; 6],
    runs: [u32; 6],
    engine: [Duration; 6],
    outside_runs: [Duration; 6],
    cost: TestRunCost,
    timings: Timings,
}

fn run(dir: &Path) -> Result<(), String> {
    let sizes = list_arg("--files", &FILES)?;
    let tasks = list_arg("--tasks", &[TASKS])?;
    if tasks.is_empty() || tasks.contains(&0) || sizes.is_empty() {
        return Err("nothing to run".to_string());
    }
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
        "tasks per pass (+{WARMUP} warm-up each): {}; {}; {} cores, git CLI {}",
        sizes
            .iter()
            .enumerate()
            .map(|(k, n)| format!("{} at {n} files", tasks[k.min(tasks.len() - 1)]))
            .collect::<Vec<_>>()
            .join(", "),
        objects_arg().as_str(),
        std::thread::available_parallelism().map_or(0, |p| p.get()),
        git(dir, &["--version"])?.trim()
    );

    for (k, &n) in sizes.iter().enumerate() {
        let at = dir.join(format!("files-{n}"));
        let passes = passes(&at, &layout, n, tasks[k.min(tasks.len() - 1)])?;
        let root = at.join("recorded/repo");
        let committed = git(&root, &["ls-tree", "-r", "--name-only", "main"])?;
        println!();
        println!(
            "== {} committed files on main ({n} asked; padding committed in {:.1} s per \
             repository, not counted)",
            committed.lines().count(),
            passes.pad.as_secs_f64() / 3.0
        );
        report(&passes);
        report_timings(&passes);
        git_costs(&root, if n > BIG { BIG_WORKTREES } else { 20 })?;
        // Removed only at the end: see `bench_support::pad`.
    }
    Ok(())
}

/// A repository, its pipeline context, and a directory for timing test runs.
struct Bench {
    ctx: PipelineContext,
    calibration: PathBuf,
    samples: Vec<Sample>,
    /// The first task's (a warm-up task, not among the samples).
    first: Option<Sample>,
    /// The worker says it cannot write outside its worktree (scripted, API);
    /// false stands for a program worker, whose attempts get the escape audit.
    confined: bool,
    /// Time spent padding the repository.
    pad: Duration,
}

impl Bench {
    fn new(
        dir: &Path,
        layout: &Layout,
        tasks: &[Task],
        files: usize,
        record: bool,
        confined: bool,
    ) -> Result<Bench, String> {
        let root = repo(&dir.join("repo"), &[])?;
        let t = Instant::now();
        pad(&root, files.saturating_sub(BARE_FILES), objects_arg())?;
        let pad = t.elapsed();
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
            first: None,
            confined,
            pad,
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
        let sample = sample(&outcome, &worker, started, ended, runs);
        let sample = sample.map_err(|e| format!("{}: {e}", task.key))?;
        if i == 0 {
            self.first = Some(sample);
        } else if i >= WARMUP {
            self.samples.push(sample);
        }
        Ok(())
    }
}

/// The samples of the three passes, the first task of each, and the time
/// spent padding their repositories.
struct Passes {
    with: Vec<Sample>,
    without: Vec<Sample>,
    program: Vec<Sample>,
    with_first: Sample,
    program_first: Sample,
    pad: Duration,
}

/// `count` tasks (after [`WARMUP`] more) with a store, without, and with a
/// store and a program worker (escape audit on), in turn (so load from
/// elsewhere on the machine hits all alike), each in its own repository of
/// `files` committed files.
fn passes(dir: &Path, layout: &Layout, files: usize, count: usize) -> Result<Passes, String> {
    let tasks: Vec<Task> = (0..WARMUP + count).map(task).collect();
    let bench = |name: &str, record: bool, confined: bool| {
        Bench::new(&dir.join(name), layout, &tasks, files, record, confined)
    };
    let mut with = bench("recorded", true, true)?;
    let mut without = bench("unrecorded", false, true)?;
    let mut program = bench("program", true, false)?;
    for (i, task) in tasks.iter().enumerate() {
        with.task(i, task)?;
        without.task(i, task)?;
        program.task(i, task)?;
    }
    Ok(Passes {
        pad: with.pad + without.pad + program.pad,
        with: with.samples,
        without: without.samples,
        program: program.samples,
        with_first: with.first.ok_or("no first task")?,
        program_first: program.first.ok_or("no first task")?,
    })
}

/// Reports answered from an earlier run, as the attempt's evidence says
/// (`pipeline::stage::note_reused`: "baseline report reused from ..." and
/// "report reused from ..., same files").
fn reused(evidence: &str) -> u32 {
    evidence.matches("reused from").count() as u32
}

fn sample(
    outcome: &TaskOutcome,
    worker: &Timed,
    started: SystemTime,
    ended: SystemTime,
    cost: TestRunCost,
) -> Result<Sample, String> {
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
    let timings = outcome.timings;
    let mut sample = Sample {
        span: [Duration::ZERO; 6],
        runs: [0; 6],
        engine: [Duration::ZERO; 6],
        outside_runs: [Duration::ZERO; 6],
        cost,
        timings,
    };
    let mut reused_runs = 0;
    for (k, stage) in STAGES.iter().enumerate() {
        let span = starts[k + 1].saturating_sub(starts[k]);
        let worker = worker.spent(Some(*stage));
        let of_stage = outcome.attempts.iter().filter(|a| a.stage == *stage);
        let reused: u32 = of_stage.map(|a| reused(&a.evidence)).sum();
        let runs = RUNS[k].saturating_sub(reused);
        reused_runs += reused;
        sample.span[k] = span;
        sample.runs[k] = runs;
        sample.engine[k] = span.saturating_sub(worker + cost.command * runs);
        sample.outside_runs[k] = span.saturating_sub(worker + cost.run_tests * runs);
    }
    sample.span[5] = since(ended);
    sample.runs[5] = sample.runs[..5].iter().sum();
    sample.engine[5] = sample.engine[..5].iter().sum();
    sample.outside_runs[5] = sample.outside_runs[..5].iter().sum();
    if (sample.runs[5], reused_runs) != (timings.test_runs, timings.reused_runs) {
        return Err(format!(
            "the evidence says {} real and {reused_runs} reused test runs, \
             TaskOutcome::timings {} and {}",
            sample.runs[5], timings.test_runs, timings.reused_runs
        ));
    }
    Ok(sample)
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
    for (k, name) in names.enumerate() {
        let engine = sorted(with, &|s| s.engine[k]);
        let runs = with.iter().map(|s| s.runs[k]).sum::<u32>() as f64 / with.len() as f64;
        println!(
            "{name:<9} {runs:>4.1} {:>9} {:>11} {:>11} {:>11} {:>15} {:>13} {:>14}",
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
    let runs = |samples: &[Sample]| {
        samples.iter().map(|s| s.runs[5]).sum::<u32>() as f64 / samples.len() as f64
    };
    println!(
        "ms; runs: real test runs (TaskOutcome::timings.test_runs, by stage from the evidence; \
         reports reused from an earlier run not counted), mean over the tasks, with recorder \
         (no recorder {:.1}, program wkr {:.1} a task); engine = span - worker - the task's real \
         runs x the command alone (target < 2 ms per stage); excl. run_tests: minus whole \
         run_tests calls instead; no recorder: engine p50 with no store; program wkr: engine p50 \
         when the worker is a program (escape audit on)",
        runs(without),
        runs(&passes.program),
    );
}

/// The engine's own split per task (`TaskOutcome::timings`), for the
/// recorded pass and the program-worker pass: the first task, then the mean
/// and p50 of the counted ones.
fn report_timings(passes: &Passes) {
    println!(
        "the engine's own split per task, ms (TaskOutcome::timings): git = worktree, commits, \
         rebase, fast-forward, parking; diff = changes, put-backs, content tree ids; tests = \
         run_tests calls; other = span - the parts; runs/reused = test runs made / answered \
         from an earlier report; first = the first (warm-up) task, which checks the repository \
         out (later tasks adopt a parked worktree; a program worker's is watched by stat, not \
         inotify); mean, p50: over the {} counted tasks",
        passes.with.len()
    );
    println!(
        "{:<9} {:<5} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>8} {:>11}",
        "pass",
        "task",
        "span",
        "git",
        "diff",
        "store",
        "tests",
        "worker",
        "merge wait",
        "other",
        "runs/reused"
    );
    let parts = |s: &Sample| {
        let t = &s.timings;
        let known = t.git + t.diff + t.store + t.tests + t.worker + t.merge_wait;
        [
            s.span[5],
            t.git,
            t.diff,
            t.store,
            t.tests,
            t.worker,
            t.merge_wait,
            s.span[5].saturating_sub(known),
        ]
    };
    let row = |pass: &str, name: &str, d: [Duration; 8], runs: String| {
        println!(
            "{pass:<9} {name:<5} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>8} {runs:>11}",
            ms(d[0]),
            ms(d[1]),
            ms(d[2]),
            ms(d[3]),
            ms(d[4]),
            ms(d[5]),
            ms(d[6]),
            ms(d[7]),
        );
    };
    for (pass, first, samples) in [
        ("recorded", &passes.with_first, &passes.with),
        ("program", &passes.program_first, &passes.program),
    ] {
        let t = &first.timings;
        row(
            pass,
            "first",
            parts(first),
            format!("{}/{}", t.test_runs, t.reused_runs),
        );
        let n = samples.len();
        let all: Vec<[Duration; 8]> = samples.iter().map(parts).collect();
        let mean: [Duration; 8] =
            std::array::from_fn(|c| all.iter().map(|p| p[c]).sum::<Duration>() / n as u32);
        let p50: [Duration; 8] = std::array::from_fn(|c| {
            let mut v: Vec<Duration> = all.iter().map(|p| p[c]).collect();
            v.sort();
            percentile(&v, 0.5)
        });
        let count = |pick: fn(&Timings) -> u32| {
            let mut v: Vec<u32> = samples.iter().map(|s| pick(&s.timings)).collect();
            v.sort();
            let p50 = v[((n - 1) as f64 * 0.5).round() as usize];
            (v.iter().sum::<u32>() as f64 / n as f64, p50)
        };
        let (runs, reused) = (count(|t| t.test_runs), count(|t| t.reused_runs));
        row(pass, "mean", mean, format!("{:.1}/{:.1}", runs.0, reused.0));
        row(pass, "p50", p50, format!("{}/{}", runs.1, reused.1));
    }
}

/// Times the git operations a task makes, one at a time, in `root`: on
/// `worktrees` worktrees of the feature branch the tasks built, and of
/// `main` (a feature branch made there), to see how they grow with the tree.
fn git_costs(root: &Path, worktrees: usize) -> Result<(), String> {
    let project = Project::open(root).map_err(|e| e.to_string())?;
    project
        .ensure_feature_branch("probe", "main")
        .map_err(|e| e.to_string())?;
    println!("git operations alone, p50 / p95 in ms ({worktrees} worktrees, 10 calls in each):");
    for prd in [PRD, "probe"] {
        let (mut create, mut remove, mut open, mut changes) = (vec![], vec![], vec![], vec![]);
        for i in 0..worktrees {
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
