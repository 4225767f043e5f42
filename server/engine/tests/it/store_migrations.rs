//! Schema versions: fresh databases, upgrades from older versions, and files the store refuses.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use rusqlite::Connection;
use tdd_engine::store::{
    LATEST_VERSION, Queries, Reader, Store, StoreError, TaskStatus, migrate_to,
};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "store-migrations-{name}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("orchestrator.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const V1_TABLES: [&str; 4] = ["events", "prds", "task_deps", "tasks"];
const V2_TABLES: [&str; 4] = ["attempts", "breaker_transitions", "breakers", "runs"];
const V3_TABLES: [&str; 1] = ["claims"];
const V5_TABLES: [&str; 2] = ["webhook_cursors", "webhook_deliveries"];
/// Migration 6: each attempt's worker transcript, compressed.
const V6_TABLES: [&str; 1] = ["attempt_transcripts"];

fn version(conn: &Connection) -> u32 {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

fn tables(conn: &Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn a_fresh_database_is_at_the_latest_version_with_every_table() {
    let dir = TempDir::new("fresh");
    let path = dir.0.join("deep").join(".tdd").join("orchestrator.db");
    drop(Store::open(&path).unwrap());
    // Opening again is a no-op.
    drop(Store::open(&path).unwrap());

    let conn = Connection::open(&path).unwrap();
    assert_eq!(LATEST_VERSION, 6);
    assert_eq!(version(&conn), LATEST_VERSION);
    let mut expected: Vec<&str> = V1_TABLES
        .iter()
        .chain(&V2_TABLES)
        .chain(&V3_TABLES)
        .chain(&V5_TABLES)
        .chain(&V6_TABLES)
        .copied()
        .collect();
    expected.sort();
    assert_eq!(tables(&conn), expected);
    // Migration 4: the rest of an attempt's model usage.
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('attempts')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for column in [
        "tokens_in",
        "tokens_out",
        "tokens_cached",
        "model_calls",
        "latency_ms",
        "cost_usd",
    ] {
        assert!(
            columns.iter().any(|c| c == column),
            "{column} in {columns:?}"
        );
    }
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_version_1_database_is_upgraded_with_its_data() {
    let dir = TempDir::new("upgrade");
    {
        let conn = Connection::open(dir.db()).unwrap();
        migrate_to(&conn, 1).unwrap();
        assert_eq!(version(&conn), 1);
        assert_eq!(tables(&conn), V1_TABLES);
        conn.execute_batch(
            r#"
            INSERT INTO prds (id, path, content_hash, format) VALUES (1, 'a.prd.md', 'h', 'markdown');
            INSERT INTO tasks (id, prd_id, key, kind, title, status, content_hash, spec, created_at, updated_at)
                VALUES (10, 1, 'T-1', 'feature', 'one', 'done', 'c1', '{"files":["a.rs"]}', 't0', 't0'),
                       (11, 1, 'T-2', 'feature', 'two', 'ready', 'c2', '{}', 't0', 't0');
            INSERT INTO task_deps (task_id, depends_on_id) VALUES (11, 10);
            INSERT INTO events (at, kind, prd_id, task_key, payload)
                VALUES ('t0', 'task_created', 1, 'T-1', '{"n":1}'), ('t0', 'task_created', 1, 'T-2', '{"n":2}');
            "#,
        )
        .unwrap();
    }

    let mut store = Store::open(dir.db()).unwrap();
    let (prd, tasks, deps, events) = store
        .read(|r| {
            let prd = r.prd("a.prd.md")?.unwrap();
            Ok::<_, StoreError>((
                prd.clone(),
                r.tasks(prd.id)?,
                r.deps(prd.id)?,
                r.events_after(0, 10)?,
            ))
        })
        .unwrap();
    assert_eq!(prd.content_hash, "h");
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0].status, TaskStatus::Done);
    assert_eq!(tasks[0].spec, serde_json::json!({ "files": ["a.rs"] }));
    assert_eq!(deps, [("T-2".to_owned(), "T-1".to_owned())]);
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    // The sequence continues where version 1 left it.
    let seq = store
        .write(|tx| tx.append_event("upgraded", Some(prd.id), None, serde_json::json!({})))
        .unwrap();
    assert_eq!(seq, 3);
    drop(store);

    let conn = Connection::open(dir.db()).unwrap();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    assert_eq!(version(&conn), LATEST_VERSION);
    conn.execute_batch(
        r#"
        INSERT INTO runs (id, prd_id, started_at, status, budget) VALUES (1, 1, 't1', 'running', '{"usd":5}');
        INSERT INTO attempts (run_id, task_id, stage, attempt, worker, started_at, failure_kind, test_summary)
            VALUES (1, 11, 'red', 1, 'scripted', 't1', 'violation', '{"failed":1}');
        INSERT INTO breakers (scope, name, state, failures) VALUES ('worker', 'claude', 'open', 3);
        INSERT INTO breaker_transitions (scope, name, from_state, to_state, at, reason)
            VALUES ('worker', 'claude', 'closed', 'open', 't1', '3 failures');
        "#,
    )
    .unwrap();
    let bad_stage = conn.execute(
        "INSERT INTO attempts (run_id, task_id, stage, attempt, worker, started_at) VALUES (1, 11, 'blue', 1, 'w', 't')",
        [],
    );
    assert!(bad_stage.is_err());
    let bad_task = conn.execute(
        "INSERT INTO attempts (run_id, task_id, stage, attempt, worker, started_at) VALUES (1, 99, 'red', 1, 'w', 't')",
        [],
    );
    assert!(bad_task.is_err());
    let counts: (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM attempts), (SELECT count(*) FROM breaker_transitions)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(counts, (1, 1));
}

#[test]
fn a_reader_refuses_an_outdated_database() {
    let dir = TempDir::new("outdated");
    migrate_to(&Connection::open(dir.db()).unwrap(), 1).unwrap();
    let err = Reader::open(dir.db()).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Outdated {
                found: 1,
                supported: 6,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_newer_database_is_refused_and_left_untouched() {
    let dir = TempDir::new("too-new");
    drop(Store::open(dir.db()).unwrap());
    {
        let conn = Connection::open(dir.db()).unwrap();
        conn.pragma_update(None, "user_version", LATEST_VERSION + 1)
            .unwrap();
    }
    let before = std::fs::read(dir.db()).unwrap();
    let listing = |dir: &Path| {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let files_before = listing(&dir.0);

    let err = Store::open(dir.db()).unwrap_err();
    let StoreError::TooNew {
        found, supported, ..
    } = &err
    else {
        panic!("expected TooNew, got {err}");
    };
    assert_eq!((*found, *supported), (LATEST_VERSION + 1, LATEST_VERSION));
    let message = err.to_string();
    assert!(message.contains("upgrade tdd-orchestrator"), "{message}");
    assert!(message.contains("not touched"), "{message}");
    assert!(message.contains("orchestrator.db"), "{message}");

    let err = Reader::open(dir.db()).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { .. }), "{err}");

    assert_eq!(std::fs::read(dir.db()).unwrap(), before);
    assert_eq!(listing(&dir.0), files_before);
}

#[test]
fn a_text_file_is_not_a_database() {
    let dir = TempDir::new("text");
    let text =
        "# My notes\n\nThis is not a database, just text that happens to be here.\n".repeat(50);
    std::fs::write(dir.db(), &text).unwrap();

    let err = Store::open(dir.db()).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("orchestrator.db"), "{message}");
    assert!(message.contains("not an SQLite database"), "{message}");
    assert!(matches!(
        Reader::open(dir.db()).unwrap_err(),
        StoreError::NotADatabase { .. }
    ));
    assert_eq!(std::fs::read_to_string(dir.db()).unwrap(), text);
}

#[test]
fn a_damaged_database_gives_an_error_not_a_panic() {
    let dir = TempDir::new("damaged");
    {
        let mut store = Store::open(dir.db()).unwrap();
        store
            .write(|tx| {
                let prd = tx.upsert_prd("a.prd.md", "h", "markdown")?;
                for i in 0..200 {
                    tx.append_event(
                        "e",
                        Some(prd),
                        None,
                        serde_json::json!({ "i": i, "pad": "x".repeat(200) }),
                    )?;
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }
    // Keep the header, scribble over the pages after it.
    let mut bytes = std::fs::read(dir.db()).unwrap();
    assert!(bytes.len() > 8192, "{}", bytes.len());
    for b in &mut bytes[4096..] {
        *b = 0xA5;
    }
    std::fs::write(dir.db(), &bytes).unwrap();

    let outcome = Store::open(dir.db()).and_then(|store| store.read(|r| r.events_after(0, 1000)));
    let err = outcome.expect_err("a scribbled-over database must not read back fine");
    assert!(
        matches!(
            err,
            StoreError::Corrupt { .. } | StoreError::NotADatabase { .. }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("orchestrator.db"), "{err}");
}

#[test]
fn a_foreign_sqlite_database_is_left_alone() {
    let dir = TempDir::new("foreign");
    {
        let conn = Connection::open(dir.db()).unwrap();
        conn.execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('ada');")
            .unwrap();
    }
    let before = std::fs::read(dir.db()).unwrap();
    let err = Store::open(dir.db()).unwrap_err();
    assert!(matches!(err, StoreError::Foreign { .. }), "{err}");
    assert!(matches!(
        Reader::open(dir.db()).unwrap_err(),
        StoreError::Foreign { .. }
    ));
    assert_eq!(std::fs::read(dir.db()).unwrap(), before);
}

#[test]
fn an_empty_file_becomes_a_fresh_database() {
    let dir = TempDir::new("empty");
    std::fs::write(dir.db(), b"").unwrap();
    let mut store = Store::open(dir.db()).unwrap();
    let seq = store
        .write(|tx| tx.append_event("hello", None, None, serde_json::json!({})))
        .unwrap();
    assert_eq!(seq, 1);
}
