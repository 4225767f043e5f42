//! The store's typed API on a real SQLite file.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::json;
use tdd_engine::store::{NewTask, PrdId, Queries, Reader, Store, StoreError, TaskId, TaskStatus};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("store-api-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join(".tdd").join("orchestrator.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn task(key: &str) -> NewTask {
    NewTask {
        key: key.to_owned(),
        kind: "feature".to_owned(),
        title: format!("title of {key}"),
        requirement: Some("REQ-1".to_owned()),
        status: TaskStatus::Pending,
        content_hash: format!("hash-{key}"),
        spec: json!({ "files": [format!("src/{key}.rs")], "complexity": 2 }),
    }
}

/// A store with one PRD and tasks `keys`, on a fixed clock.
fn store_with(dir: &TempDir, keys: &[&str]) -> (Store, PrdId, Vec<TaskId>) {
    let mut store = Store::open(dir.db())
        .unwrap()
        .with_clock(|| "2025-01-02T03:04:05.678Z".to_owned());
    let (prd, ids) = store
        .write(|tx| {
            let prd = tx.upsert_prd("docs/a.prd.md", "h1", "markdown")?;
            let ids = keys
                .iter()
                .map(|key| tx.insert_task(prd, &task(key)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, StoreError>((prd, ids))
        })
        .unwrap();
    (store, prd, ids)
}

#[test]
fn status_round_trips_through_text_and_the_database() {
    for status in TaskStatus::ALL {
        assert_eq!(status.as_str().parse::<TaskStatus>(), Ok(status));
        assert_eq!(status.to_string(), status.as_str());
    }
    let err = "finished".parse::<TaskStatus>().unwrap_err();
    assert!(err.to_string().contains("\"finished\""), "{err}");

    let dir = TempDir::new("status");
    let (mut store, prd, ids) = store_with(&dir, &["T-1"]);
    for status in TaskStatus::ALL {
        store
            .write(|tx| tx.set_task_status(ids[0], status))
            .unwrap();
        let row = store.read(|r| r.task(prd, "T-1")).unwrap().unwrap();
        assert_eq!(row.status, status);
    }
}

#[test]
fn prd_upsert_keeps_the_id_and_records_decomposition() {
    let dir = TempDir::new("prd");
    let (mut store, prd, _) = store_with(&dir, &[]);
    let again = store
        .write(|tx| tx.upsert_prd("docs/a.prd.md", "h2", "yaml"))
        .unwrap();
    assert_eq!(again, prd);
    let row = store.read(|r| r.prd("docs/a.prd.md")).unwrap().unwrap();
    assert_eq!(
        (row.id, row.content_hash.as_str(), row.format.as_str()),
        (prd, "h2", "yaml")
    );
    assert_eq!(row.decomposed_at, None);

    store.write(|tx| tx.mark_decomposed(prd, "h2")).unwrap();
    let row = store.read(|r| r.prd("docs/a.prd.md")).unwrap().unwrap();
    assert_eq!(
        row.decomposed_at.as_deref(),
        Some("2025-01-02T03:04:05.678Z")
    );
    assert_eq!(row.decomposed_hash.as_deref(), Some("h2"));

    assert!(
        store
            .read(|r| r.prd("docs/other.prd.md"))
            .unwrap()
            .is_none()
    );
    let err = store
        .write(|tx| tx.mark_decomposed(PrdId(999), "h"))
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { id: 999, .. }), "{err}");
}

#[test]
fn tasks_are_ordered_by_key_and_updates_are_stored() {
    let dir = TempDir::new("tasks");
    let (mut store, prd, ids) = store_with(&dir, &["T-3", "T-1", "T-2"]);
    let keys: Vec<String> = store
        .read(|r| r.tasks(prd))
        .unwrap()
        .into_iter()
        .map(|t| t.key)
        .collect();
    assert_eq!(keys, ["T-1", "T-2", "T-3"]);

    let spec = json!({ "files": ["src/x.rs"], "criteria": ["AC-1"], "hints": { "deep": [1, 2] } });
    store
        .write(|tx| {
            tx.update_task_plan(ids[0], "new title", "bugfix", "hash-new", &spec)?;
            tx.set_prd_changed_since_done(ids[0], true)
        })
        .unwrap();
    let row = store.read(|r| r.task(prd, "T-3")).unwrap().unwrap();
    assert_eq!(row.id, ids[0]);
    assert_eq!(row.title, "new title");
    assert_eq!(row.kind, "bugfix");
    assert_eq!(row.content_hash, "hash-new");
    assert_eq!(row.spec, spec);
    assert!(row.prd_changed_since_done);
    assert_eq!(row.requirement.as_deref(), Some("REQ-1"));
    assert_eq!(row.created_at, "2025-01-02T03:04:05.678Z");

    let err = store
        .write(|tx| tx.insert_task(prd, &task("T-1")))
        .unwrap_err();
    assert!(err.to_string().contains("UNIQUE"), "{err}");
    assert!(store.read(|r| r.task(prd, "T-9")).unwrap().is_none());
}

#[test]
fn replace_deps_replaces_and_rejects_bad_edges() {
    let dir = TempDir::new("deps");
    let (mut store, prd, ids) = store_with(&dir, &["A", "B", "C"]);
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    store
        .write(|tx| {
            tx.replace_deps(a, &[b, c, b])?;
            tx.replace_deps(b, &[c])
        })
        .unwrap();
    let edges = |store: &Store| store.read(|r| r.deps(prd)).unwrap();
    let pairs = |list: &[(&str, &str)]| {
        list.iter()
            .map(|(x, y)| (x.to_string(), y.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(edges(&store), pairs(&[("A", "B"), ("A", "C"), ("B", "C")]));

    store.write(|tx| tx.replace_deps(a, &[c])).unwrap();
    assert_eq!(edges(&store), pairs(&[("A", "C"), ("B", "C")]));

    // A failing call rolls the whole transaction back.
    let err = store
        .write(|tx| {
            tx.replace_deps(b, &[])?;
            tx.replace_deps(c, &[c])
        })
        .unwrap_err();
    assert!(err.to_string().contains("CHECK"), "{err}");
    assert_eq!(edges(&store), pairs(&[("A", "C"), ("B", "C")]));

    let err = store
        .write(|tx| tx.replace_deps(a, &[TaskId(12345)]))
        .unwrap_err();
    assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
    let err = store
        .write(|tx| tx.replace_deps(TaskId(777), &[a]))
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { id: 777, .. }), "{err}");
}

#[test]
fn events_after_pages_through_the_log() {
    let dir = TempDir::new("events");
    let (mut store, prd, _) = store_with(&dir, &[]);
    assert_eq!(store.read(|r| r.last_seq()).unwrap(), 0);
    for i in 0..25 {
        let seq = store
            .write(|tx| tx.append_event("tick", Some(prd), Some("T-1"), json!({ "i": i })))
            .unwrap();
        assert_eq!(seq, i + 1);
    }
    let reader = store.reader().unwrap();
    assert_eq!(reader.last_seq().unwrap(), 25);

    let mut after = 0;
    let mut sizes = Vec::new();
    let mut seen = Vec::new();
    loop {
        let page = reader.events_after(after, 10).unwrap();
        sizes.push(page.len());
        let Some(last) = page.last() else { break };
        after = last.seq;
        seen.extend(page);
    }
    assert_eq!(sizes, [10, 10, 5, 0]);
    assert_eq!(
        seen.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=25).collect::<Vec<_>>()
    );
    let e = &seen[7];
    assert_eq!(
        (e.kind.as_str(), e.prd_id, e.task_key.as_deref(), &e.payload),
        ("tick", Some(prd), Some("T-1"), &json!({ "i": 7 }))
    );
    assert_eq!(e.at, "2025-01-02T03:04:05.678Z");
    assert!(reader.events_after(25, 10).unwrap().is_empty());
    assert_eq!(reader.events_after(20, 0).unwrap().len(), 0);
}

#[test]
fn a_rolled_back_write_leaves_no_trace_and_no_hole() {
    let dir = TempDir::new("rollback");
    let (mut store, prd, _) = store_with(&dir, &["T-1"]);
    store
        .write(|tx| tx.append_event("first", None, None, json!(null)))
        .unwrap();
    let result: Result<(), StoreError> = store.write(|tx| {
        tx.insert_task(prd, &task("T-2"))?;
        tx.append_event("second", None, None, json!({}))?;
        Err(StoreError::NotFound {
            path: PathBuf::from("x"),
            what: "thing",
            id: 1,
        })
    });
    assert!(result.is_err());
    let seq = store
        .write(|tx| tx.append_event("third", None, None, json!([])))
        .unwrap();
    assert_eq!(seq, 2);
    assert!(store.read(|r| r.task(prd, "T-2")).unwrap().is_none());
}

#[test]
fn sqlite_clock_stamps_rfc3339_utc() {
    let dir = TempDir::new("clock");
    let mut store = Store::open(dir.db()).unwrap();
    store
        .write(|tx| tx.append_event("e", None, None, json!(1)))
        .unwrap();
    let at = store.read(|r| r.events_after(0, 1)).unwrap()[0].at.clone();
    // 2025-01-02T03:04:05.678Z
    let b = at.as_bytes();
    assert_eq!(b.len(), 24, "{at}");
    for (i, c) in b.iter().enumerate() {
        match i {
            4 | 7 => assert_eq!(*c, b'-', "{at}"),
            10 => assert_eq!(*c, b'T', "{at}"),
            13 | 16 => assert_eq!(*c, b':', "{at}"),
            19 => assert_eq!(*c, b'.', "{at}"),
            23 => assert_eq!(*c, b'Z', "{at}"),
            _ => assert!(c.is_ascii_digit(), "{at}"),
        }
    }
}

#[test]
fn deleting_cascades_to_tasks_and_deps_but_keeps_events() {
    let dir = TempDir::new("cascade");
    let (mut store, prd, ids) = store_with(&dir, &["A", "B", "C"]);
    store
        .write(|tx| {
            tx.replace_deps(ids[0], &[ids[1]])?;
            tx.replace_deps(ids[1], &[ids[2]])?;
            tx.append_event("task_created", Some(prd), Some("A"), json!({}))
        })
        .unwrap();

    store.write(|tx| tx.delete_task(ids[1])).unwrap();
    let keys: Vec<String> = store
        .read(|r| r.tasks(prd))
        .unwrap()
        .into_iter()
        .map(|t| t.key)
        .collect();
    assert_eq!(keys, ["A", "C"]);
    assert!(store.read(|r| r.deps(prd)).unwrap().is_empty());

    store
        .write(|tx| tx.replace_deps(ids[0], &[ids[2]]))
        .unwrap();
    store.write(|tx| tx.delete_prd(prd)).unwrap();
    assert!(store.read(|r| r.prd("docs/a.prd.md")).unwrap().is_none());
    assert!(store.read(|r| r.tasks(prd)).unwrap().is_empty());
    assert!(store.read(|r| r.deps(prd)).unwrap().is_empty());
    assert_eq!(store.read(|r| r.last_seq()).unwrap(), 1);

    let raw = rusqlite::Connection::open(dir.db()).unwrap();
    let left: i64 = raw
        .query_row(
            "SELECT (SELECT count(*) FROM tasks) + (SELECT count(*) FROM task_deps)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
}

#[test]
fn reader_needs_an_existing_database() {
    let dir = TempDir::new("reader");
    let err = Reader::open(dir.db()).unwrap_err();
    assert!(matches!(err, StoreError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("orchestrator.db"), "{err}");
}

/// The daemon's `tdd_merge_conflicts_total`: MERGE attempts whose evidence
/// is the conflict's, and no other attempt.
#[test]
fn merge_conflicts_are_counted_from_the_merge_attempts() {
    use tdd_engine::store::runs::NewAttempt;
    let dir = TempDir::new("conflicts");
    let (mut store, prd, tasks) = store_with(&dir, &["A", "B"]);
    let conflict = format!("{} src/calc.py", tdd_engine::pipeline::MERGE_CONFLICT);
    store
        .write(|tx| {
            let run = tx.start_run(prd, "me:1:1")?;
            let attempts = [
                (tasks[0], "merge", conflict.as_str()),
                (tasks[0], "merge", "1 passed"),
                (tasks[1], "green", conflict.as_str()),
                (tasks[1], "merge", conflict.as_str()),
            ];
            for (n, (task, stage, evidence)) in attempts.into_iter().enumerate() {
                tx.insert_attempt(&NewAttempt {
                    run_id: run,
                    task_id: task,
                    stage: stage.into(),
                    attempt: n as u32 + 1,
                    worker: "engine".into(),
                    started_at_ms: 1_000,
                    finished_at_ms: Some(2_000),
                    exit_code: None,
                    test_summary: None,
                    failure_kind: None,
                    diff_stats: None,
                    evidence: Some(evidence.into()),
                    usage: None,
                    transcript: None,
                })?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    assert_eq!(store.read(|tx| tx.merge_conflicts()).unwrap(), 2);
}
