//! Crash safety from the outside: the real binary runs a real Python project
//! (git, worktrees, pytest), is killed with SIGKILL at a random moment, and
//! `resume` must then finish the run with no task lost, no stage done twice
//! past its recorded evidence, no duplicate commit, and a sound database.
//!
//! The seed is printed; `TDD_CRASH_SEED=<n>` replays a failing sequence.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::{fresh_dir, git, path_with_venv, python_project, venv_bin, write};
use tdd_test_support::succeeded;

const ROUNDS: usize = 20;
/// Fewer under load: each round takes longer.
const ROUNDS_UNDER_LOAD: usize = 8;
const PRD_NAME: &str = "calc";

const PRD: &str = "\
# Calculator

A tiny calculator library.

## Requirements

### REQ-1 Add

As a user, I want to add two numbers so that I get their sum.

Module: src/add.py
Tests: tests/test_add.py

Acceptance criteria:
- AC-1.1: WHEN the user adds 2 and 3 THE SYSTEM SHALL return 5.

### REQ-2 Double

As a user, I want a number doubled so that I get twice its value.

Module: src/double.py
Tests: tests/test_double.py
Depends on: REQ-1

Acceptance criteria:
- AC-2.1: WHEN the user doubles 4 THE SYSTEM SHALL return 8.

### REQ-3 Negate

As a user, I want a number negated so that I get its opposite.

Module: src/negate.py
Tests: tests/test_negate.py

Acceptance criteria:
- AC-3.1: WHEN the user negates 7 THE SYSTEM SHALL return -7.
";

/// (task, stage, attempt, path, text). REQ-2's first GREEN edits its test:
/// rejected, then attempt 2 is right, so a kill can land inside a FIX loop.
const STEPS: &[(&str, &str, u32, &str, &str)] = &[
    (
        "REQ-1/AC-1.1",
        "red",
        1,
        "tests/test_add.py",
        "from add import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
    ),
    (
        "REQ-1/AC-1.1",
        "green",
        1,
        "src/add.py",
        "def add(a, b):\n    return a + b\n",
    ),
    (
        "REQ-2/AC-2.1",
        "red",
        1,
        "tests/test_double.py",
        "from double import double\n\n\ndef test_double():\n    assert double(4) == 8\n",
    ),
    (
        "REQ-2/AC-2.1",
        "green",
        1,
        "tests/test_double.py",
        "def test_double():\n    assert True\n",
    ),
    (
        "REQ-2/AC-2.1",
        "green",
        2,
        "src/double.py",
        "from add import add\n\n\ndef double(x):\n    return add(x, x)\n",
    ),
    (
        "REQ-3/AC-3.1",
        "red",
        1,
        "tests/test_negate.py",
        "from negate import negate\n\n\ndef test_negate():\n    assert negate(7) == -7\n",
    ),
    (
        "REQ-3/AC-3.1",
        "green",
        1,
        "src/negate.py",
        "def negate(x):\n    return -x\n",
    ),
];

fn toml_string(text: &str) -> String {
    format!(
        "\"{}\"",
        text.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    )
}

fn tdd(root: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tdd-orchestrator"));
    cmd.args(args)
        .current_dir(root)
        .env("PATH", path_with_venv())
        .env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

/// A committed Python project with its PRD decomposed and the worker script.
fn project(name: &str) -> PathBuf {
    let root = fresh_dir(&format!("crash-{name}"));
    python_project(&root, &[("calc.prd.md", PRD)]);
    let init = tdd(&root, &["init", "--language", "python"])
        .output()
        .unwrap();
    succeeded(&init, "init");
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "init"]);
    let decompose = tdd(&root, &["decompose", "calc.prd.md"]).output().unwrap();
    succeeded(&decompose, "decompose");
    let mut script = String::new();
    for (task, stage, attempt, path, text) in STEPS {
        script.push_str(&format!(
            "[[step]]\ntask = \"{task}\"\nstage = \"{stage}\"\nattempt = {attempt}\nwrite = {{ {} = {} }}\n\n",
            toml_string(path),
            toml_string(text)
        ));
    }
    write(&root, "script.toml", &script);
    root
}

fn run_args(command: &str) -> Vec<&str> {
    vec![
        command,
        "calc.prd.md",
        "--script",
        "script.toml",
        "--workers",
        "2",
        "--plain",
        "--max-attempts",
        "2",
    ]
}

/// Checks everything a finished run must hold.
fn check_finished(root: &Path, context: &str) {
    let db = root.join(".tdd/orchestrator.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok", "{context}");
    let statuses: Vec<(String, String)> = conn
        .prepare("SELECT key, status FROM tasks ORDER BY key")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(statuses.len(), 3, "{context}");
    // A task that did not finish says why (issue 13, finding 10: one round
    // in sixteen once ended with a task failed and no reason shown).
    let why: Vec<String> = conn
        .prepare(
            "SELECT t.key, a.stage, a.attempt, a.failure_kind, a.evidence FROM attempts a \
             JOIN tasks t ON t.id = a.task_id WHERE t.status != 'done' ORDER BY a.id",
        )
        .unwrap()
        .query_map([], |r| {
            Ok(format!(
                "{} {} #{}: {:?}: {}",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?.unwrap_or_default()
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        statuses.iter().all(|(_, s)| s == "done"),
        "{context}: {statuses:?}\nattempts of the unfinished tasks:\n{}",
        why.join("\n")
    );
    let claims: i64 = conn
        .query_row("SELECT count(*) FROM claims", [], |r| r.get(0))
        .unwrap();
    assert_eq!(claims, 0, "{context}: claims left behind");

    // Each stage passed exactly once per task, and no attempt number repeats.
    let attempts: Vec<(String, String, i64, i64, Option<String>)> = conn
        .prepare(
            "SELECT t.key, a.stage, a.run_id, a.attempt, a.failure_kind
             FROM attempts a JOIN tasks t ON t.id = a.task_id ORDER BY a.id",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut passed: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut numbers = BTreeSet::new();
    for (key, stage, run, attempt, failure) in &attempts {
        if failure.is_none() {
            *passed.entry((key.clone(), stage.clone())).or_default() += 1;
        }
        assert!(
            numbers.insert((key.clone(), stage.clone(), *run, *attempt)),
            "{context}: attempt {attempt} of {key} {stage} recorded twice: {attempts:?}"
        );
    }
    for (key, _) in &statuses {
        for stage in ["red", "green", "verify", "refactor", "merge"] {
            assert_eq!(
                passed.get(&(key.clone(), stage.to_string())),
                Some(&1),
                "{context}: {key} {stage} should have passed exactly once: {attempts:?}"
            );
        }
    }

    // One commit per task and stage on the feature branch, none twice.
    let log = git(
        root,
        &[
            "log",
            "--format=%(trailers:key=Tdd-Task,valueonly,separator=)|%(trailers:key=Tdd-Stage,valueonly,separator=)",
            &format!("main..tdd/{PRD_NAME}"),
        ],
    );
    let commits: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    let unique: BTreeSet<&str> = commits.iter().copied().collect();
    assert_eq!(
        commits.len(),
        unique.len(),
        "{context}: duplicate stage commits: {commits:?}"
    );
    assert_eq!(commits.len(), 3 * 4, "{context}: {commits:?}");
}

/// The feature branch's whole suite passes in a checkout of its own.
fn check_feature_suite(root: &Path) {
    let dir = root.join(".tdd/check");
    git(
        root,
        &[
            "worktree",
            "add",
            "-q",
            "--detach",
            dir.to_str().unwrap(),
            &format!("tdd/{PRD_NAME}"),
        ],
    );
    let out = Command::new(venv_bin().join("pytest"))
        .args(["-q", "-p", "no:cacheprovider"])
        .current_dir(&dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 passed"));
}

/// A small deterministic generator (xorshift): no dependency for a few numbers.
struct Rng(u64);

impl Rng {
    fn fraction(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % 10_000) as f64 / 10_000.0
    }
}

/// An uninterrupted run, then `rounds` runs each SIGKILLed at a random
/// moment and resumed: every one ends with all tasks done, once.
fn killed_and_resumed(label: &str, rounds: usize) {
    // An uninterrupted run: checks the setup and measures how long a run takes.
    let root = project(&format!("{label}-full"));
    let started = Instant::now();
    let out = tdd(&root, &run_args("run")).output().unwrap();
    let full = started.elapsed();
    let stdout = succeeded(&out, "out");
    assert!(
        stdout.contains("REJECTED"),
        "the scripted wrong attempt is rejected: {stdout}"
    );
    check_finished(&root, "uninterrupted run");
    check_feature_suite(&root);

    let seed = std::env::var("TDD_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash seed {seed} (TDD_CRASH_SEED={seed} replays it); a full run took {full:?}");
    // The kill point: after a random line of progress (each one an event of
    // the run: a task started, an attempt recorded), plus a random delay, so
    // kills land inside stages too, whatever the machine's speed.
    let progress_lines = stdout.lines().take_while(|l| !l.starts_with("  ")).count();
    let mut rng = Rng(seed);
    let mut killed_mid_run = 0;
    for round in 0..rounds {
        let root = project(&format!("{label}-round{round}"));
        let after_lines = 1 + (rng.fraction() * (progress_lines - 1) as f64) as usize;
        let delay = Duration::from_millis((rng.fraction() * 400.0) as u64);
        let mut child = tdd(&root, &run_args("run"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for _ in 0..after_lines {
            if lines.next().is_none() {
                break;
            }
        }
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let context = format!(
            "round {round} (seed {seed}, killed {delay:?} after progress line {after_lines})"
        );
        let conn = rusqlite::Connection::open(root.join(".tdd/orchestrator.db")).unwrap();
        let integrity: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok", "{context}: right after the kill");
        drop(conn);

        let out = tdd(&root, &run_args("resume")).output().unwrap();
        // A kill before the run row existed leaves nothing to resume: `run` then.
        let out = if String::from_utf8_lossy(&out.stderr).contains("no unfinished run") {
            tdd(&root, &run_args("run")).output().unwrap()
        } else {
            out
        };
        assert!(
            out.status.success(),
            "{context}: resume did not complete\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // What resume said goes with any failure found after it.
        let context = format!(
            "{context}\nresume said:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        check_finished(&root, &context);
    }
    eprintln!("{label}: {killed_mid_run} of {rounds} kills landed while the run was working");
    assert!(
        killed_mid_run >= rounds * 3 / 4,
        "most kills must land mid-run, not after it"
    );
}

#[test]
fn a_run_killed_at_random_moments_resumes_to_completion_every_time() {
    killed_and_resumed("idle", ROUNDS);
}

/// The same on a machine busy with other work (issue 13, finding 10: one
/// round in sixteen failed a task on a heavily loaded machine): two
/// processes spin on the CPU the whole time.
#[test]
fn under_cpu_load_a_killed_run_still_resumes_to_completion() {
    struct Spinners(Vec<std::process::Child>);
    impl Drop for Spinners {
        fn drop(&mut self) {
            for child in &mut self.0 {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
    let _spinners = Spinners(
        (0..2)
            .map(|_| {
                Command::new("sh")
                    .args(["-c", "while :; do :; done"])
                    .spawn()
                    .unwrap()
            })
            .collect(),
    );
    killed_and_resumed("loaded", ROUNDS_UNDER_LOAD);
}

/// Ctrl-C during a run: the test runner (in a process group of its own,
/// which the terminal's SIGINT does not reach) is killed with its whole
/// group within seconds, the run is recorded as cancelled, and `resume`
/// completes it.
#[test]
fn sigint_cancels_the_run_kills_its_children_and_resume_completes_it() {
    let root = project("sigint");
    let dir = fresh_dir("sigint-runner");
    let (marker, pids) = (dir.join("sleep"), dir.join("pids"));
    std::fs::write(&marker, "").unwrap();
    let script = dir.join("sleepy-pytest.sh");
    std::fs::write(
        &script,
        format!(
            "if [ -e '{}' ]; then echo $$ >> '{}'; sleep 60; fi\nexec pytest \"$@\"\n",
            marker.display(),
            pids.display()
        ),
    )
    .unwrap();
    let config = root.join(".tdd/config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let line = format!("test_command = \"sh '{}'\"", script.display());
    std::fs::write(&config, text.replace("# test_command = \"pytest\"", &line)).unwrap();

    let mut child = tdd(&root, &run_args("run"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let waited = Instant::now();
    while !pids.exists() {
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "no test run started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let groups: Vec<i32> = std::fs::read_to_string(&pids)
        .unwrap()
        .lines()
        .map(|pid| {
            let out = Command::new("ps")
                .args(["-o", "pgid=", "-p", pid.trim()])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        })
        .collect();
    let own_group = unsafe { libc::getpgid(child.id() as i32) };
    assert!(
        groups.iter().all(|g| *g != own_group),
        "the runner has a group of its own"
    );

    let sent = Instant::now();
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(5),
            "still running 5 s after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    for group in &groups {
        let left = live_in_group(*group);
        assert!(
            left.is_empty(),
            "process group {group} outlived the run: {left:?}\n{stderr}"
        );
    }
    eprintln!(
        "stopped {:?} after SIGINT ({status}): {stderr}",
        sent.elapsed()
    );
    let conn = rusqlite::Connection::open(root.join(".tdd/orchestrator.db")).unwrap();
    let run_status: String = conn
        .query_row(
            "SELECT status FROM runs ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(run_status, "cancelled");
    drop(conn);

    std::fs::remove_file(&marker).unwrap();
    let out = tdd(&root, &run_args("resume")).output().unwrap();
    succeeded(&out, "out");
    check_finished(&root, "resumed after SIGINT");
}

/// The processes of a process group that still run (dead ones waiting to be
/// reaped do not count: this sandbox's init does not reap orphans).
fn live_in_group(group: i32) -> Vec<String> {
    let mut live = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp …; comm may hold spaces: split after ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[2] == group.to_string() && fields[0] != "Z" {
            live.push(format!("{head}) {}", fields[0]));
        }
    }
    live
}
