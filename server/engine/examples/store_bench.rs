//! Store benchmark: event-append throughput and latency, and `tasks()` read time.
//!
//! `cargo run --release -p tdd-engine --example store_bench`. Prints numbers, asserts nothing.
//! The database lives in a fresh directory under the system temp dir (WAL, synchronous=NORMAL,
//! as in production), so the numbers include the file system's fsync behaviour.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use tdd_engine::store::{NewTask, Queries, Store, StoreError, TaskStatus};

const SINGLE: usize = 5_000;
const BATCHES: usize = 200;
const BATCH: usize = 100;
const TASKS: usize = 5_000;
const READS: usize = 20;

fn main() -> Result<(), StoreError> {
    let dir = std::env::temp_dir().join(format!("tdd-store-bench-{}", std::process::id()));
    let result = run(dir.join("orchestrator.db"));
    let _ = fs::remove_dir_all(&dir);
    result
}

fn run(path: PathBuf) -> Result<(), StoreError> {
    let mut store = Store::open(&path)?;
    println!(
        "SQLite {}, database {}",
        rusqlite::version(),
        path.display()
    );
    let prd = store.write(|tx| tx.upsert_prd("bench.prd.md", "h0", "markdown"))?;

    // Warm-up, so the first page allocations are not measured.
    for i in 0..200 {
        store.write(|tx| tx.append_event("warmup", Some(prd), None, json!({ "i": i })))?;
    }

    let mut latencies = Vec::with_capacity(SINGLE);
    let start = Instant::now();
    for i in 0..SINGLE {
        let t = Instant::now();
        store.write(|tx| {
            tx.append_event(
                "stage_started",
                Some(prd),
                Some("T-1"),
                json!({ "i": i, "stage": "red" }),
            )
        })?;
        latencies.push(t.elapsed());
    }
    let single = start.elapsed();
    latencies.sort();
    println!(
        "append, 1 event per transaction:   {:>9.0} events/s  ({SINGLE} transactions in {:.2?})",
        SINGLE as f64 / single.as_secs_f64(),
        single
    );
    println!(
        "append latency, 1 event:           mean {:.1?}  p50 {:.1?}  p95 {:.1?}  p99 {:.1?}  max {:.1?}",
        single / SINGLE as u32,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.95),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );

    let start = Instant::now();
    for b in 0..BATCHES {
        store.write(|tx| {
            for i in 0..BATCH {
                tx.append_event(
                    "test_result",
                    Some(prd),
                    Some("T-2"),
                    json!({ "b": b, "i": i, "ok": true }),
                )?;
            }
            Ok::<_, StoreError>(())
        })?;
    }
    let batched = start.elapsed();
    println!(
        "append, {BATCH} events per transaction: {:>9.0} events/s  ({} events in {:.2?})",
        (BATCHES * BATCH) as f64 / batched.as_secs_f64(),
        BATCHES * BATCH,
        batched
    );

    let start = Instant::now();
    store.write(|tx| {
        for i in 0..TASKS {
            let key = format!("T-{i:05}");
            tx.insert_task(prd, &new_task(&key, i))?;
        }
        Ok::<_, StoreError>(())
    })?;
    println!(
        "insert {TASKS} tasks, one transaction: {:.2?}",
        start.elapsed()
    );

    let reader = store.reader()?;
    let mut reads = Vec::with_capacity(READS);
    for _ in 0..READS {
        let t = Instant::now();
        let tasks = reader.tasks(prd)?;
        reads.push(t.elapsed());
        assert_eq!(tasks.len(), TASKS);
    }
    reads.sort();
    println!(
        "tasks() for {TASKS} tasks (reader, {READS} runs): min {:.2?}  median {:.2?}  max {:.2?}",
        reads[0],
        percentile(&reads, 0.5),
        reads[READS - 1]
    );

    // Baseline: the same rows straight from SQLite, text columns left as text.
    let raw = rusqlite::Connection::open(&path).map_err(|source| StoreError::Sql {
        path: path.clone(),
        source,
    })?;
    let mut raws = Vec::with_capacity(READS);
    for _ in 0..READS {
        let t = Instant::now();
        let rows = raw_tasks(&raw, prd.0).map_err(|source| StoreError::Sql {
            path: path.clone(),
            source,
        })?;
        raws.push(t.elapsed());
        assert_eq!(rows, TASKS);
    }
    raws.sort();
    println!(
        "  baseline, raw SELECT, no parsing:  median {:.2?}  (tasks() is {:.1}x)",
        percentile(&raws, 0.5),
        percentile(&reads, 0.5).as_secs_f64() / percentile(&raws, 0.5).as_secs_f64()
    );

    let t = Instant::now();
    let mut after = 0;
    let mut count = 0;
    loop {
        let page = reader.events_after(after, 1_000)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        count += page.len();
    }
    println!(
        "events_after, pages of 1000:       {:>9.0} events/s  ({count} events in {:.2?})",
        count as f64 / t.elapsed().as_secs_f64(),
        t.elapsed()
    );
    println!(
        "database size: {} KiB (+ WAL {} KiB)",
        size_kib(&path),
        size_kib(&wal(&path))
    );
    Ok(())
}

fn new_task(key: &str, i: usize) -> NewTask {
    NewTask {
        key: key.to_owned(),
        kind: "feature".to_owned(),
        title: format!("Task {i}: validate the input and report the first error"),
        requirement: Some(format!("REQ-{:03}", i % 300)),
        status: TaskStatus::Pending,
        content_hash: format!("{:064x}", i),
        spec: json!({
            "files": { "tests": [format!("tests/test_{i}.py")], "source": [format!("src/mod_{i}.py")] },
            "criteria": ["AC-1: given valid input it succeeds", "AC-2: given bad input it names the field"],
            "test_specs": [{ "name": format!("test_{i}_ok"), "kind": "unit" }],
            "complexity": i % 5,
            "hints": ["keep the parser pure"],
        }),
    }
}

fn raw_tasks(conn: &rusqlite::Connection, prd: i64) -> rusqlite::Result<usize> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, prd_id, key, kind, title, requirement, status, content_hash, spec,
                prd_changed_since_done, created_at, updated_at
         FROM tasks WHERE prd_id = ?1 ORDER BY key",
    )?;
    let rows = stmt.query_map([prd], |row| {
        Ok((
            (
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
            ),
            (row.get::<_, String>(3)?, row.get::<_, String>(4)?),
            (row.get::<_, Option<String>>(5)?, row.get::<_, String>(6)?),
            (row.get::<_, String>(7)?, row.get::<_, String>(8)?),
            (
                row.get::<_, bool>(9)?,
                row.get::<_, String>(10)?,
                row.get::<_, String>(11)?,
            ),
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?.len())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

fn wal(path: &std::path::Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

fn size_kib(path: &std::path::Path) -> u64 {
    fs::metadata(path).map_or(0, |m| m.len() / 1024)
}
