//! `tdd-orchestrator demo` end to end: a generated Rust project, its PRD, and
//! the whole pipeline with the scripted worker, run by the real binary.

use std::path::PathBuf;
use std::process::Command;
use tdd_test_support::succeeded;

#[test]
fn the_demo_runs_every_task_to_merged_and_shows_the_rejected_attempt() {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_tdd-orchestrator"))
        .args(["demo", "--dir"])
        .arg(&dir)
        // A global target dir must not be shared by the worktrees (it once
        // was: cargo took one worktree's build for fresh in another).
        .env("CARGO_TARGET_DIR", dir.with_extension("shared-target"))
        .output()
        .unwrap();
    let stdout = succeeded(&out, "out");

    // Every task went RED with a reason, then GREEN, VERIFY and merged.
    for key in ["REQ-1/AC-1.1", "REQ-2/AC-2.1", "REQ-3/AC-3.1"] {
        assert!(
            stdout.contains(&format!("{key} red #1: passed — 1 failed (missing symbol")),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("{key} verify #1: passed")),
            "{stdout}"
        );
        assert!(stdout.contains(&format!("{key}     merged")), "{stdout}");
    }
    // The deliberately wrong attempt is rejected and says why.
    assert!(
        stdout.contains("REQ-2/AC-2.1 green #1: REJECTED"),
        "{stdout}"
    );
    assert!(stdout.contains("[green.test_changed]"), "{stdout}");
    assert!(stdout.contains("reverted tests/to_celsius.rs"), "{stdout}");
    assert!(stdout.contains("run 1 completed: 3 merged now"), "{stdout}");

    // One commit per stage per task, each with its trailers.
    let log = Command::new("git")
        .args(["log", "--format=%(trailers:key=Tdd-Task,valueonly,separator=)|%(trailers:key=Tdd-Stage,valueonly,separator=)|%(trailers:key=Tdd-Evidence,valueonly,separator=)", "main..tdd/temps"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let log = String::from_utf8(log.stdout).unwrap();
    let commits: Vec<&str> = log.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(commits.len(), 12, "{log}");
    for key in ["REQ-1/AC-1.1", "REQ-2/AC-2.1", "REQ-3/AC-3.1"] {
        for stage in ["red", "green", "verify", "refactor"] {
            let prefix = format!("{key}|{stage}|");
            let found: Vec<_> = commits.iter().filter(|c| c.starts_with(&prefix)).collect();
            assert_eq!(found.len(), 1, "{prefix}: {log}");
            assert!(
                found[0].len() > prefix.len(),
                "evidence trailer missing: {}",
                found[0]
            );
        }
    }
    // The user's branch is untouched.
    let main = Command::new("git")
        .args(["log", "--format=%s", "main"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&main.stdout).lines().count(), 1);
}
