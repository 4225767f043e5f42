//! Readers on their own connections see whole transactions only and are never refused while
//! the writer commits.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use serde_json::json;
use tdd_engine::store::{NewTask, Queries, Reader, Store, StoreError, TaskStatus};

const WRITES: usize = 1_000;
const READERS: usize = 2;

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Debug, Default)]
struct Seen {
    snapshots: usize,
    distinct: usize,
    last: usize,
}

/// One snapshot: tasks and `task_created` events must match, and the log must have no hole.
fn read_once(reader: &Reader, prd: tdd_engine::store::PrdId) -> Result<usize, StoreError> {
    reader.read(|r| {
        let tasks = r.tasks(prd)?;
        let events = r.events_after(0, usize::MAX)?;
        let created = events.iter().filter(|e| e.kind == "task_created").count();
        assert_eq!(tasks.len(), created, "torn snapshot");
        assert_eq!(r.last_seq()?, events.len() as i64);
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e.seq, i as i64 + 1, "hole in the log");
        }
        for task in &tasks {
            assert_eq!(
                task.spec["n"],
                task.title
                    .trim_start_matches("task ")
                    .parse::<u64>()
                    .unwrap()
            );
        }
        Ok(tasks.len())
    })
}

#[test]
fn readers_see_consistent_snapshots_while_the_writer_commits() {
    let dir = TempDir(
        Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("store-concurrency-{}", std::process::id())),
    );
    let _ = std::fs::remove_dir_all(&dir.0);
    let mut store = Store::open(dir.0.join("orchestrator.db")).unwrap();
    let prd = store
        .write(|tx| tx.upsert_prd("c.prd.md", "h", "markdown"))
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));

    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let reader = store.reader().unwrap();
            let done = Arc::clone(&done);
            thread::spawn(move || {
                let mut seen = Seen::default();
                loop {
                    // Read once more after the writer finished, to see the final state.
                    let finished = done.load(Ordering::Acquire);
                    let count = read_once(&reader, prd)
                        .unwrap_or_else(|err| panic!("reader failed: {err}"));
                    assert!(
                        count >= seen.last,
                        "went back in time: {count} < {}",
                        seen.last
                    );
                    if count != seen.last || seen.snapshots == 0 {
                        seen.distinct += 1;
                    }
                    seen.last = count;
                    seen.snapshots += 1;
                    if finished {
                        return seen;
                    }
                }
            })
        })
        .collect();

    let writer = thread::spawn(move || {
        for n in 0..WRITES {
            store
                .write(|tx| {
                    let key = format!("T{n:04}");
                    let id = tx.insert_task(
                        prd,
                        &NewTask {
                            key: key.clone(),
                            kind: "feature".to_owned(),
                            title: format!("task {n}"),
                            requirement: None,
                            status: TaskStatus::Pending,
                            content_hash: format!("c{n}"),
                            spec: json!({ "n": n }),
                        },
                    )?;
                    tx.append_event("task_created", Some(prd), Some(&key), json!({ "n": n }))?;
                    if n % 3 == 0 {
                        tx.set_task_status(id, TaskStatus::Ready)?;
                        tx.append_event(
                            "task_status",
                            Some(prd),
                            Some(&key),
                            json!({ "status": "ready" }),
                        )?;
                    }
                    Ok::<_, StoreError>(())
                })
                .unwrap();
        }
    });

    writer.join().unwrap();
    done.store(true, Ordering::Release);
    for reader in readers {
        let seen = reader.join().unwrap();
        eprintln!("reader: {seen:?}");
        assert_eq!(seen.last, WRITES);
        assert!(
            seen.distinct >= 2,
            "the reader never saw the writer's progress: {seen:?}"
        );
    }
}
