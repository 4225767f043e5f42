//! What the pipeline benchmarks share (`stage_overhead_bench`,
//! `pool_scale_bench`, `merge_queue_bench`): the Python tasks and their
//! files, the instant worker, the pytest stand-in, the repository and its
//! padding, the store, a test-command wrapper that counts runs, and timing
//! helpers.
//!
//! Included with `#[path = "bench_support/mod.rs"] mod bench_support;` (a
//! directory without `main.rs` is not an example of its own).

#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tdd_core::config::Layout;
use tdd_core::plan::{Task, TaskGraph};
use tdd_engine::pipeline::{Recorder, TaskOutcome};
use tdd_engine::scheduler::{SchedulerReport, TaskEnd};
use tdd_engine::store::{NewTask, Store, StoreError, TaskStatus};
use tdd_gates::Stage;
use tdd_workers::process::CancelToken;
use tdd_workers::testrun::run_tests;
use tdd_workers::{ScriptedWorker, StageRequest, Worker, WorkerError, WorkerReport};

pub const PRD: &str = "bench";
pub const STAGES: [Stage; 5] = [
    Stage::Red,
    Stage::Green,
    Stage::Verify,
    Stage::Refactor,
    Stage::Merge,
];

/// The stand-in for pytest: one test per `tests/test_<m>.py`, passing when
/// the first line of `src/<m>.py` is what the test's first line names,
/// written as JUnit XML to the `--junitxml=` path. `read` takes a file's
/// first line without a process; the exit code follows pytest's (1 when a
/// test failed).
pub const FAKE_PYTEST: &str = r##"out=
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

/// The instant worker, timed: RED writes the test, GREEN the source,
/// REFACTOR the source again with a comment, for each task it was given.
/// The time spent in `perform` is shared, so it can be read after the
/// worker went into a pool.
pub struct Timed {
    inner: ScriptedWorker,
    pub spent: Arc<Mutex<Vec<(Stage, Duration)>>>,
    confined: bool,
}

impl Timed {
    pub fn new(name: &str, tasks: &[usize], confined: bool) -> Timed {
        let mut inner = ScriptedWorker::new(name);
        for &i in tasks {
            let key = key(i);
            let ((test, test_text), (source, text)) = files(i);
            let refactored = text.replacen('\n', "\n    # refactored\n", 1);
            inner = inner
                .write(&key, Stage::Red, 1, &test, &test_text)
                .write(&key, Stage::Green, 1, &source, &text)
                .write(&key, Stage::Refactor, 1, &source, &refactored);
        }
        Timed {
            inner,
            spent: Arc::default(),
            confined,
        }
    }

    /// Time in `perform` for `stage` (every stage: `None`).
    pub fn spent(&self, stage: Option<Stage>) -> Duration {
        let spent = self.spent.lock().unwrap();
        let of = spent
            .iter()
            .filter(|(s, _)| stage.is_none_or(|st| *s == st));
        of.map(|(_, d)| *d).sum()
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
        self.spent
            .lock()
            .unwrap()
            .push((request.stage, t.elapsed()));
        result
    }
}

pub fn key(i: usize) -> String {
    format!("REQ-{i}/AC-{i}.1")
}

/// Task `i`'s test and source: (path, text) each. The test is real pytest;
/// its first line is what [`FAKE_PYTEST`] compares.
pub fn files(i: usize) -> ((String, String), (String, String)) {
    let test = format!(
        "# expect: def f_{i}():\nfrom m_{i} import f_{i}\n\n\ndef test_m_{i}():\n    assert f_{i}() == {i}\n"
    );
    let source = format!("def f_{i}():\n    return {i}\n");
    (
        (format!("tests/test_m_{i}.py"), test),
        (format!("src/m_{i}.py"), source),
    )
}

/// Task `i`: writes its test and its source, depends on nothing.
pub fn task(i: usize) -> Task {
    let ((test, _), (source, _)) = files(i);
    Task {
        requirement: Some(format!("REQ-{i}")),
        criteria: vec![format!("AC-{i}.1")],
        ..Task::implementing(&key(i), &format!("f_{i}"), &test, &source)
    }
}

/// Tasks `0..n` in `phases` phases as even as can be (the first ones get
/// the extra tasks); each task depends on every task of the phase before.
pub fn phased_graph(n: usize, phases: usize) -> TaskGraph {
    let phases = phases.min(n).max(1);
    let mut waves: Vec<Vec<String>> = Vec::new();
    let mut tasks = Vec::new();
    let mut next = 0;
    for p in 0..phases {
        let size = n / phases + usize::from(p < n % phases);
        let depends_on = waves.last().cloned().unwrap_or_default();
        let wave: Vec<String> = (next..next + size).map(key).collect();
        tasks.extend((next..next + size).map(|i| Task {
            depends_on: depends_on.clone(),
            ..task(i)
        }));
        waves.push(wave);
        next += size;
    }
    TaskGraph {
        prd_id: None,
        prd_title: None,
        tasks,
        waves,
    }
}

/// A task that did not merge after exactly one attempt per stage would skew
/// the numbers: the reason, to stop there.
pub fn check(key: &str, outcome: &TaskOutcome) -> Result<(), String> {
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
        "{key}: {:?} (record error: {:?})\n{}",
        outcome.status,
        outcome.record_error,
        attempts.join("\n")
    ))
}

/// [`check`] for every task of a scheduler run.
pub fn check_report(report: &SchedulerReport) -> Result<(), String> {
    let mut errors = Vec::new();
    for t in &report.tasks {
        match (&t.end, &t.outcome) {
            (TaskEnd::Merged, Some(outcome)) => errors.extend(check(&t.key, outcome).err()),
            (end, Some(outcome)) => errors.push(format!(
                "{end:?}; {}",
                check(&t.key, outcome).err().unwrap_or_default()
            )),
            (end, None) => errors.push(format!("{}: {end:?}", t.key)),
        }
    }
    match errors.is_empty() {
        true => Ok(()),
        false => Err(errors.join("\n")),
    }
}

/// The store, with the PRD, every task and a running run.
pub fn recorder(db: &Path, tasks: &[Task]) -> Result<Recorder, String> {
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

/// A Python project on `main` with one commit, holding `extra` files
/// (path, text) besides `src/README`, `tests/README` and `.gitignore`.
pub fn repo(root: &Path, extra: &[(&str, &str)]) -> Result<PathBuf, String> {
    let files = [
        (".gitignore", ".tdd/\n__pycache__/\n"),
        ("src/README", "sources\n"),
        ("tests/README", "tests\n"),
    ];
    for (path, text) in files.iter().chain(extra) {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).map_err(|e| e.to_string())?;
        fs::write(path, text).map_err(|e| e.to_string())?;
    }
    git(root, &["init", "-q", "-b", "main"])?;
    git(root, &["config", "user.name", "Bench"])?;
    git(root, &["config", "user.email", "bench@example.com"])?;
    git(root, &["add", "-A"])?;
    git(root, &["commit", "-q", "-m", "init"])?;
    Ok(root.to_path_buf())
}

/// Padding files per directory (see [`pad`]).
pub const FILES_PER_DIR: usize = 100;

/// How the padding's objects are stored.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Objects {
    /// In a pack, as in a cloned repository (`git gc` after the commit).
    Packed,
    /// One file per object, as `git add` leaves them until a gc.
    Loose,
}

/// `n` tiny committed files in `root`, [`FILES_PER_DIR`] a directory under
/// `vendor/`: written, then `git add -A` and one commit with the git CLI,
/// then packed or left loose, then flushed to disk. The commit's own automatic gc is off: past
/// 6,700 loose objects it would pack them in the background while the
/// benchmark runs.
///
/// Mind ext4 when timing file creation: it passes over inodes freed in the
/// last minute (six, while their table block is not yet on disk) to find a
/// free one, and that search is system time. Creating 10,000 files just
/// after deleting 10,000 cost 2.4 s where it costs 0.1 s on a quiet disk
/// (`perf`: ext4's `recently_deleted`). So the benchmarks remove what they
/// made only when they end, and runs of them should be minutes apart.
pub fn pad(root: &Path, n: usize, objects: Objects) -> Result<(), String> {
    if n == 0 {
        return Ok(());
    }
    for f in 0..n {
        let dir = root.join(format!("vendor/d{:04}", f / FILES_PER_DIR));
        if f % FILES_PER_DIR == 0 {
            fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        }
        fs::write(dir.join(format!("f{f:07}.txt")), format!("padding {f}\n"))
            .map_err(|e| e.to_string())?;
    }
    git(root, &["add", "-A"])?;
    git(root, &["-c", "gc.auto=0", "commit", "-q", "-m", "padding"])?;
    if objects == Objects::Packed {
        git(root, &["gc", "-q"])?;
    }
    // The padding's writes are flushed before anything is timed: a real
    // repository was cloned long before the run, and the kernel writing
    // 10,000 new files back to disk would be billed to the first checkout.
    let synced = Command::new("sync")
        .status()
        .map_err(|e| format!("sync: {e}"))?;
    if !synced.success() {
        return Err("sync failed".to_string());
    }
    Ok(())
}

pub fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
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

/// A test command that appends a line to `dir/runs` and then runs
/// `command` with the engine's arguments: (the command, the counter file).
pub fn counted(dir: &Path, command: &str) -> Result<(String, PathBuf), String> {
    let (script, counter) = (dir.join("count-runs.sh"), dir.join("runs"));
    let text = format!(
        "printf 'x\\n' >> '{}'\nexec {command} \"$@\"\n",
        counter.display()
    );
    fs::write(&script, text).map_err(|e| e.to_string())?;
    fs::write(&counter, "").map_err(|e| e.to_string())?;
    Ok((format!("sh '{}'", script.display()), counter))
}

/// How many runs a [`counted`] command made.
pub fn runs(counter: &Path) -> usize {
    fs::read_to_string(counter).map_or(0, |t| t.lines().count())
}

/// One test run, timed: the whole `run_tests` call, and the same command
/// line spawned and waited for with nothing around it.
#[derive(Clone, Copy)]
pub struct TestRunCost {
    pub run_tests: Duration,
    pub command: Duration,
}

/// The mean cost of one test run in `dir` (`times` of each, interleaved).
pub fn time_test_runs(layout: &Layout, dir: &Path, times: usize) -> Result<TestRunCost, String> {
    let cancel = CancelToken::default();
    let report = dir.join("report.xml");
    // The line `testrun` builds for Python (see testrun.rs), minus the file list.
    let line = format!(
        "{} -q -p no:cacheprovider --continue-on-collection-errors --junitxml='{}'",
        layout.test_command,
        report.display()
    );
    let (mut whole, mut bare) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..times {
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
        run_tests: whole / times as u32,
        command: bare / times as u32,
    })
}

/// `p` (0 to 1) of a sorted list.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

/// A comma-separated list of numbers from `--name a,b,c`, or `default`.
/// `--loose`: leave the padding's objects loose (packed by default).
pub fn objects_arg() -> Objects {
    if std::env::args().any(|a| a == "--loose") {
        Objects::Loose
    } else {
        Objects::Packed
    }
}

impl Objects {
    pub fn as_str(self) -> &'static str {
        match self {
            Objects::Packed => "padding packed",
            Objects::Loose => "padding loose",
        }
    }
}

pub fn list_arg(name: &str, default: &[usize]) -> Result<Vec<usize>, String> {
    let args: Vec<String> = std::env::args().collect();
    let Some(i) = args.iter().position(|a| a == name) else {
        return Ok(default.to_vec());
    };
    let value = args.get(i + 1).ok_or(format!("{name} needs a value"))?;
    value
        .split(',')
        .map(|v| v.trim().replace('_', "").parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{name} {value}: {e}"))
}
