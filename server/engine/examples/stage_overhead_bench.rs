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

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tdd_core::config::{Language, Layout};
use tdd_core::gate::Stage;
use tdd_core::plan::{Complexity, Level, Task, TaskKind};
use tdd_core::text::Span;
use tdd_engine::git::Project;
use tdd_engine::pipeline::{PipelineContext, Recorder, TaskOutcome, run_task};
use tdd_engine::process::CancelToken;
use tdd_engine::store::{NewTask, Store, StoreError, TaskStatus};
use tdd_engine::testrun::run_tests;
use tdd_engine::worker::{ScriptedWorker, StageRequest, Worker, WorkerError, WorkerReport};

const TASKS: usize = 50;
/// Tasks run first and not counted (page cache, SQLite and git warm-up).
const WARMUP: usize = 3;
const CALIBRATION: usize = 8;
const PRD: &str = "bench";
const STAGES: [Stage; 5] = [
    Stage::Red,
    Stage::Green,
    Stage::Verify,
    Stage::Refactor,
    Stage::Merge,
];
/// Test runs per stage, in [`STAGES`] order (see the module documentation).
const RUNS: [u32; 5] = [2, 2, 1, 2, 1];

/// The stand-in for pytest. `read` takes a file's first line without a
/// process; the exit code follows pytest's (1 when a test failed).
const FAKE_PYTEST: &str = r##"out=
for a in "$@"; do
  case $a in --junitxml=*) out=${a#--junitxml=} ;; esac
done
status=0
{
  printf '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">'
  for t in tests/test_*.py; do
    [ -f "$t" ] || continue
    m=${t#tests/test_}; m=${m%.py}
    read -r want < "$t"; want=${want#"# expect: "}
    got=
    [ -f "src/$m.py" ] && read -r got < "src/$m.py"
    if [ "$got" = "$want" ]; then
      printf '<testcase classname="tests.test_%s" name="test_%s" file="%s" time="0.001"/>' "$m" "$m" "$t"
    else
      status=1
      printf '<testcase classname="tests.test_%s" name="test_%s" file="%s" time="0.001"><failure message="assert False">%s:6: AssertionError</failure></testcase>' "$m" "$m" "$t" "$t"
    fi
  done
  printf '</testsuite></testsuites>\n'
} > "$out"
exit $status
"##;

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
        let root = repo(&dir.join("repo"))?;
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
        let mut worker = Timed::new(i, self.confined);
        let started = SystemTime::now();
        let outcome = run_task(&self.ctx, task, &mut worker);
        let ended = SystemTime::now();
        check(task, &outcome)?;
        // The calibration directory now holds what the feature branch holds.
        let (test, source) = files(i);
        let dir = &self.calibration;
        fs::write(dir.join(&test.0), &test.1).map_err(|e| e.to_string())?;
        fs::write(dir.join(&source.0), &source.1).map_err(|e| e.to_string())?;
        let runs = time_test_runs(&self.ctx.layout, dir)?;
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

/// One test run, timed: the whole `run_tests` call, and the same command
/// line spawned and waited for with nothing around it.
#[derive(Clone, Copy)]
struct TestRunCost {
    run_tests: Duration,
    command: Duration,
}

/// The mean cost of one test run in `dir` ([`CALIBRATION`] of each, interleaved).
fn time_test_runs(layout: &Layout, dir: &Path) -> Result<TestRunCost, String> {
    let cancel = CancelToken::default();
    let report = dir.join("report.xml");
    // The line `testrun` builds for Python (see testrun.rs), minus the file list.
    let line = format!(
        "{} -q -p no:cacheprovider --continue-on-collection-errors --junitxml='{}'",
        layout.test_command,
        report.display()
    );
    let (mut whole, mut bare) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..CALIBRATION {
        let t = Instant::now();
        let run = run_tests(
            layout,
            dir,
            &[],
            Vec::new(),
            Duration::from_secs(30),
            &cancel,
        )
        .map_err(|e| e.to_string())?;
        whole += t.elapsed();
        if run.report.tests.is_empty() {
            return Err("the calibration run reported no tests".to_string());
        }
        let t = Instant::now();
        Command::new("sh")
            .args(["-c", &line])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| e.to_string())?;
        bare += t.elapsed();
    }
    Ok(TestRunCost {
        run_tests: whole / CALIBRATION as u32,
        command: bare / CALIBRATION as u32,
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
        let worker = worker.spent(*stage);
        sample.span[k] = span;
        sample.engine[k] = span.saturating_sub(worker + cost.command * RUNS[k]);
        sample.outside_runs[k] = span.saturating_sub(worker + cost.run_tests * RUNS[k]);
    }
    sample.span[5] = since(ended);
    sample.engine[5] = sample.engine[..5].iter().sum();
    sample.outside_runs[5] = sample.outside_runs[..5].iter().sum();
    sample
}

/// A task that did not merge after exactly one attempt per stage would skew
/// the numbers: stop there.
fn check(task: &Task, outcome: &TaskOutcome) -> Result<(), String> {
    let stages: Vec<Stage> = outcome.attempts.iter().map(|a| a.stage).collect();
    if outcome.merged() && stages == STAGES && outcome.record_error.is_none() {
        return Ok(());
    }
    let attempts: Vec<String> = outcome
        .attempts
        .iter()
        .map(|a| format!("  {} #{}: {}", a.stage.as_str(), a.attempt, a.evidence))
        .collect();
    Err(format!(
        "{}: {:?} (record error: {:?})\n{}",
        task.key,
        outcome.status,
        outcome.record_error,
        attempts.join("\n")
    ))
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

/// The instant worker, timed: RED writes the test, GREEN the source,
/// REFACTOR the source again with a comment.
struct Timed {
    inner: ScriptedWorker,
    spent: Vec<(Stage, Duration)>,
    confined: bool,
}

impl Timed {
    fn new(i: usize, confined: bool) -> Timed {
        let key = key(i);
        let ((test, test_text), (source, text)) = files(i);
        let refactored = text.replacen('\n', "\n    # refactored\n", 1);
        let inner = ScriptedWorker::new("instant")
            .write(&key, Stage::Red, 1, &test, &test_text)
            .write(&key, Stage::Green, 1, &source, &text)
            .write(&key, Stage::Refactor, 1, &source, &refactored);
        Timed {
            inner,
            spent: Vec::new(),
            confined,
        }
    }

    fn spent(&self, stage: Stage) -> Duration {
        self.spent
            .iter()
            .filter(|(s, _)| *s == stage)
            .map(|(_, d)| *d)
            .sum()
    }
}

impl Worker for Timed {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn confined_to_worktree(&self) -> bool {
        self.confined
    }

    fn perform(&mut self, request: &StageRequest) -> Result<WorkerReport, WorkerError> {
        let t = Instant::now();
        let result = self.inner.perform(request);
        self.spent.push((request.stage, t.elapsed()));
        result
    }
}

fn key(i: usize) -> String {
    format!("REQ-{i}/AC-{i}.1")
}

/// Task `i`'s test and source: (path, text) each.
fn files(i: usize) -> ((String, String), (String, String)) {
    let test = format!(
        "# expect: def f_{i}():\nfrom m_{i} import f_{i}\n\n\ndef test_m_{i}():\n    assert f_{i}() == {i}\n"
    );
    let source = format!("def f_{i}():\n    return {i}\n");
    (
        (format!("tests/test_m_{i}.py"), test),
        (format!("src/m_{i}.py"), source),
    )
}

fn task(i: usize) -> Task {
    let ((test, _), (source, _)) = files(i);
    Task {
        key: key(i),
        kind: TaskKind::Implement,
        title: format!("f_{i}"),
        requirement: Some(format!("REQ-{i}")),
        criteria: vec![format!("AC-{i}.1")],
        test_file: Some(test.clone()),
        impl_file: Some(source.clone()),
        writes: vec![test, source],
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

/// The store, with the PRD, every task and a running run.
fn recorder(db: &Path, tasks: &[Task]) -> Result<Recorder, String> {
    fs::create_dir_all(db.parent().unwrap()).map_err(|e| e.to_string())?;
    let mut store = Store::open(db).map_err(|e| e.to_string())?;
    let (prd, run_id, task_ids) = store
        .write(|tx| {
            let prd = tx.upsert_prd("docs/bench.prd.md", "h", "markdown")?;
            let mut ids = HashMap::new();
            for task in tasks {
                let new = NewTask {
                    key: task.key.clone(),
                    kind: "implement".to_string(),
                    title: task.title.clone(),
                    requirement: task.requirement.clone(),
                    status: TaskStatus::Running,
                    content_hash: "h".to_string(),
                    spec: serde_json::json!({}),
                };
                ids.insert(task.key.clone(), tx.insert_task(prd, &new)?);
            }
            Ok::<_, StoreError>((prd, tx.insert_run(prd, "running")?, ids))
        })
        .map_err(|e| e.to_string())?;
    Ok(Recorder {
        store: Arc::new(Mutex::new(store)),
        run_id,
        task_ids,
        prd_id: Some(prd),
    })
}

/// A Python project on `main` with one commit.
fn repo(root: &Path) -> Result<PathBuf, String> {
    fs::create_dir_all(root.join("src")).map_err(|e| e.to_string())?;
    fs::create_dir_all(root.join("tests")).map_err(|e| e.to_string())?;
    fs::write(root.join(".gitignore"), ".tdd/\n__pycache__/\n").map_err(|e| e.to_string())?;
    fs::write(root.join("src/README"), "sources\n").map_err(|e| e.to_string())?;
    fs::write(root.join("tests/README"), "tests\n").map_err(|e| e.to_string())?;
    git(root, &["init", "-q", "-b", "main"])?;
    git(root, &["config", "user.name", "Bench"])?;
    git(root, &["config", "user.email", "bench@example.com"])?;
    git(root, &["add", "-A"])?;
    git(root, &["commit", "-q", "-m", "init"])?;
    Ok(root.to_path_buf())
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}
