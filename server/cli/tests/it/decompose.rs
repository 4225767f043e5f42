//! `decompose`, `status`, `tasks` and `export` from the outside, on a real
//! project directory with a real store.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EXAMPLE: &str = include_str!("../../../../examples/library-loans.prd.md");

fn project(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    std::fs::write(dir.join("loans.prd.md"), EXAMPLE).unwrap();
    dir
}

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_tdd-orchestrator"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

#[test]
fn json_output_matches_the_schema_and_is_byte_identical() {
    let dir = project("json");
    let (status, first, stderr) = run(
        &dir,
        &["decompose", "--dry-run", "--format", "json", "loans.prd.md"],
    );
    assert_eq!(status, 0, "{stderr}");
    let (_, second, _) = run(
        &dir,
        &["decompose", "--dry-run", "--format", "json", "loans.prd.md"],
    );
    assert_eq!(first, second, "two runs differ");
    let schema: serde_json::Value =
        serde_json::from_str(&tdd_core::plan::tasks_schema_json()).unwrap();
    let checked_in: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/tasks.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(schema, checked_in);
    let graph: serde_json::Value = serde_json::from_str(&first).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&graph)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert!(
        !dir.join(".tdd/orchestrator.db").exists(),
        "a dry run stores nothing"
    );
}

#[test]
fn decompose_prints_exactly_what_changed() {
    let dir = project("replan");
    let (status, stdout, stderr) = run(&dir, &["decompose", "loans.prd.md"]);
    assert_eq!(status, 0, "{stderr}");
    assert!(stdout.contains("PRD-LOANS: 6 tasks in 5 waves"), "{stdout}");
    assert!(stdout.contains("added (6)"), "{stdout}");

    let edited = EXAMPLE
        .replace("reject the return with error `not_on_loan`", "reject the return with error `loan_not_found`")
        .replace("- AC-4.1: WHEN a loan is 1 day past its due date THE SYSTEM SHALL queue one overdue notice to the member's email address.\n", "");
    std::fs::write(dir.join("loans.prd.md"), edited).unwrap();
    let (_, status_out, _) = run(&dir, &["status"]);
    assert!(
        status_out.contains("changed since it was decomposed"),
        "{status_out}"
    );

    let (_, preview, _) = run(&dir, &["decompose", "--dry-run", "loans.prd.md"]);
    assert!(
        preview.contains("Dry run: nothing was stored."),
        "{preview}"
    );
    let (status, stdout, _) = run(&dir, &["decompose", "loans.prd.md"]);
    assert_eq!(status, 0);
    for expected in [
        "added (1): REQ-4/AC-4.2",
        "re-planned, reset to pending (1): REQ-3/AC-3.1",
        "removed from the PRD, cancelled (1): REQ-4/AC-4.1",
        "unchanged, status and history kept: 4",
    ] {
        assert!(
            stdout.contains(expected),
            "missing `{expected}` in:\n{stdout}"
        );
        assert!(
            preview.contains(expected),
            "the dry run should have said `{expected}`:\n{preview}"
        );
    }
    let (_, status_out, _) = run(&dir, &["status"]);
    assert!(
        !status_out.contains("changed since it was decomposed"),
        "{status_out}"
    );
    assert!(
        status_out.contains("pending 6") && status_out.contains("cancelled 1"),
        "{status_out}"
    );

    let (_, list, _) = run(&dir, &["tasks", "list"]);
    assert!(
        list.contains("REQ-4/AC-4.1") && list.contains("cancelled"),
        "{list}"
    );
    let (status, show, _) = run(&dir, &["tasks", "show", "REQ-2/AC-2.1"]);
    assert_eq!(status, 0);
    assert!(
        show.contains("test_ac_2_2_reject_the_request_with_error_book")
            && show.contains("book_unavailable"),
        "{show}"
    );
    let (status, _, stderr) = run(&dir, &["tasks", "show", "REQ-9/AC-9.1"]);
    assert_eq!(status, 2);
    assert!(stderr.contains("no task `REQ-9/AC-9.1`"), "{stderr}");

    let (_, export, _) = run(&dir, &["export", "--format", "json"]);
    let export: serde_json::Value = serde_json::from_str(&export).unwrap();
    let tasks = export["prds"][0]["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 7);
    assert!(
        tasks
            .iter()
            .any(|t| t["key"] == "REQ-4/AC-4.1" && t["status"] == "cancelled")
    );
}

#[test]
fn graph_errors_refuse_with_positions_and_store_nothing() {
    let dir = project("errors");
    let cyclic = EXAMPLE.replace(
        "### REQ-1 Register a member\n",
        "### REQ-1 Register a member\n\nDepends on: REQ-4\n",
    );
    std::fs::write(dir.join("loans.prd.md"), cyclic).unwrap();
    let (status, _, stderr) = run(&dir, &["decompose", "loans.prd.md"]);
    assert_eq!(status, 1);
    assert!(
        stderr.contains("loans.prd.md:16:13: error: dependency cycle: REQ-1/AC-1.1 → "),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was stored"), "{stderr}");
    assert!(!dir.join(".tdd/orchestrator.db").exists());
}

#[test]
fn status_before_any_decomposition_says_what_to_do() {
    let dir = project("empty");
    let (status, stdout, _) = run(&dir, &["status"]);
    assert_eq!(status, 0);
    assert!(
        stdout.contains("run `tdd-orchestrator decompose <prd>`"),
        "{stdout}"
    );
}

/// A second process (the CLI) reads the store while this process writes:
/// every export is one consistent snapshot. Tasks are written two per
/// transaction, so a torn read would show an odd count.
#[test]
fn another_process_reads_consistent_snapshots_while_a_writer_commits() {
    use tdd_engine::store::{NewTask, Store, StoreError, TaskStatus};

    let dir = project("concurrent");
    std::fs::create_dir_all(dir.join(".tdd")).unwrap();
    let mut store = Store::open(dir.join(".tdd/orchestrator.db")).unwrap();
    let writer = std::thread::spawn(move || {
        for i in 0..2000 {
            if i % 20 == 0 {
                // Pauses keep the writer busy long enough for several exports to overlap it.
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            store
                .write(|tx| -> Result<(), StoreError> {
                    let prd = tx.upsert_prd("loans.prd.md", "hash", "markdown")?;
                    for half in ["a", "b"] {
                        let task = NewTask {
                            key: format!("T-{i:04}-{half}"),
                            kind: "implement".into(),
                            title: format!("task {i} {half}"),
                            requirement: None,
                            status: TaskStatus::Pending,
                            content_hash: "h".into(),
                            spec: serde_json::json!({}),
                        };
                        tx.insert_task(prd, &task)?;
                    }
                    tx.append_event(
                        "task_planned",
                        Some(prd),
                        None,
                        serde_json::json!({ "pair": i }),
                    )?;
                    Ok(())
                })
                .unwrap();
        }
    });
    let mut counts = Vec::new();
    while !writer.is_finished() || counts.is_empty() {
        let (status, stdout, stderr) = run(&dir, &["export", "--format", "json"]);
        assert_eq!(status, 0, "{stderr}");
        let export: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let count = export["prds"]
            .as_array()
            .unwrap()
            .first()
            .map_or(0, |p| p["tasks"].as_array().unwrap().len());
        assert_eq!(count % 2, 0, "a torn read: {count} tasks");
        counts.push(count);
    }
    writer.join().unwrap();
    assert!(
        counts.windows(2).all(|w| w[0] <= w[1]),
        "snapshots go forward: {counts:?}"
    );
    assert!(
        counts.iter().any(|&c| c > 0 && c < 4000),
        "no export overlapped the writer: {counts:?}"
    );
    let (_, stdout, _) = run(&dir, &["export", "--format", "json"]);
    assert!(stdout.contains("T-1999-b"), "the last write is visible");
}
